"""Safe Markdown: what labelers read is rendered, and nothing in it can run."""

from __future__ import annotations

from app.markdown import render_markdown, sanitize_html


class TestRenderMarkdown:
    def test_a_script_tag_in_the_text_is_shown_as_text(self) -> None:
        html = render_markdown("Hi <script>alert(1)</script>")
        assert "<script" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html

    def test_an_img_with_onerror_never_becomes_an_element(self) -> None:
        html = render_markdown('<img src="x" onerror="alert(1)">')
        assert "<img" not in html
        assert "&lt;img" in html

    def test_javascript_links_lose_their_target(self) -> None:
        html = render_markdown("[click](javascript:alert(1)) and <javascript:alert(2)>")
        assert 'href="javascript' not in html

    def test_ordinary_links_are_kept_and_marked_noopener(self) -> None:
        html = render_markdown("[docs](https://example.org/a)")
        assert 'href="https://example.org/a"' in html
        assert "noopener" in html

    def test_tables_are_kept_without_inline_styles(self) -> None:
        html = render_markdown("| a | b |\n|:--|--:|\n| 1 | 2 |")
        assert "<table>" in html and "<th>a</th>" in html and "<td>2</td>" in html
        assert "style=" not in html

    def test_fenced_code_blocks_keep_their_text_and_language(self) -> None:
        html = render_markdown("```python\nif a < b:\n    pass\n```")
        assert '<pre><code class="language-python">' in html
        assert "if a &lt; b:\n    pass" in html

    def test_lists_and_emphasis_render(self) -> None:
        html = render_markdown("- one\n- **two**")
        assert "<ul>" in html and "<strong>two</strong>" in html

    def test_empty_text_renders_nothing(self) -> None:
        assert render_markdown("") == ""


class TestSanitizeHtml:
    def test_removes_scripts_event_handlers_and_javascript_urls(self) -> None:
        html = sanitize_html(
            '<p onclick="x()">a<script>alert(1)</script>'
            '<img src="i.png" onerror="alert(1)"><a href="javascript:alert(1)">l</a></p>'
        )
        assert "script" not in html
        assert "onerror" not in html and "onclick" not in html
        assert "javascript:" not in html
        assert '<img src="i.png">' in html

    def test_drops_tags_outside_the_allow_list(self) -> None:
        html = sanitize_html('<iframe src="https://evil.example"></iframe><style>p{}</style><b>ok</b>')
        assert "iframe" not in html and "style" not in html
        assert "<b>ok</b>" in html
