"""The PDF renderer: render small bundles of each kind and read the text back with pypdf. No database."""

from __future__ import annotations

import io
import re

import pytest
from pypdf import PdfReader
from reportlab.pdfbase.pdfmetrics import stringWidth

from portal.reports import pdf
from portal.reports.pdf_text import clean, para, wrap

from . import bundles


def _read(data: bytes) -> PdfReader:
    assert data.startswith(b"%PDF-")
    return PdfReader(io.BytesIO(data))


def _pages(data: bytes) -> list[str]:
    return [p.extract_text() for p in _read(data).pages]


def _flat(text: str) -> str:
    """Text without whitespace: wrapped digests and ids come back in one piece."""
    return re.sub(r"\s+", "", text)


def _outline(reader: PdfReader) -> list[str]:
    titles: list[str] = []

    def walk(items: list) -> None:
        for item in items:
            if isinstance(item, list):
                walk(item)
            else:
                titles.append(item.title)

    walk(reader.outline)
    return titles


@pytest.fixture(scope="module")
def framework_pdf() -> bytes:
    return pdf.render(bundles.framework(evidence_rows=300))


@pytest.fixture(scope="module")
def hostile_pdf() -> bytes:
    return pdf.render(bundles.hostile())


def test_it_prints_control_ids_statuses_and_failing_entities(framework_pdf: bytes) -> None:
    text = "\n".join(_pages(framework_pdf))
    for control in ("H1 · Record ePHI activity", "H2 · Minimum necessary access", "H3 · Access reviews",
                    "H4 · Policies on file"):
        assert control in text
    for word in ("PASS", "FAIL", "NOT EVALUATED", "EVIDENCE"):
        assert word in text
    assert "nightly_export_job" in text and "adhoc_query_eve" in text
    assert "Failing entities: two entities" in text
    assert "access reviews (grant history)" in text
    assert "Four controls. Pass: one; fail: one; not applicable (nothing in scope, never a pass): none; not " \
        "evaluated (the portal lacks the data): one; evidence only: one." in " ".join(text.split())


def test_it_prints_the_signature_manifest_and_the_checkpoint(framework_pdf: bytes) -> None:
    text = "\n".join(_pages(framework_pdf))
    assert "Bob Stone" in text and "Dana Reyes" in text
    flat = _flat(text)
    assert "VOIDED" in text and "metricsreviewed" in flat  # the reason may wrap in its column
    assert "production-default v2" in text
    assert "sha256:" + "5d" * 32 in flat
    assert bundles.ROOT_HASH in flat
    assert "ab12" * 8 in flat
    # proofs are summarised (entry, checkpoint, verified); their hex paths stay in the JSON bundle
    assert "release12approved" in flat and "1e" * 32 not in flat and "4b" * 32 not in flat
    assert "Audit chain: VERIFIED" in text


def test_each_signature_shows_the_digest_its_signer_reviewed(framework_pdf: bytes) -> None:
    """What each approver signed is checkable from the paper: the reviewed digest, in full, on the signer's row
    (Dana's was voided when the subject changed: hers differs from the release's)."""
    reader = _read(framework_pdf)
    page = next(p.extract_text() for p in reader.pages if "Bob Stone" in p.extract_text())
    flat = _flat(page)
    assert "Revieweddigest" in flat
    bob, dana = flat.index("BobStone"), flat.index("DanaReyes")
    assert bob < flat.index("sha256:" + "5d" * 32, bob) < dana < flat.index("sha256:" + "d4" * 32, dana)


def test_it_puts_the_report_id_and_page_count_in_the_footer_of_every_page(framework_pdf: bytes) -> None:
    pages = _pages(framework_pdf)
    for n, text in enumerate(pages, start=1):
        assert f"Lineage Portal · report {bundles.REPORT_ID} · page {n} of {len(pages)}" in text


def test_it_names_the_report_in_the_pdf_metadata(framework_pdf: bytes) -> None:
    meta = _read(framework_pdf).metadata
    assert meta.title == "HIPAA compliance report"
    assert meta.author == "Lineage Portal"
    assert meta.subject == bundles.REPORT_ID
    assert bundles.REPORT_ID in meta["/Keywords"]


def test_it_has_an_outline_and_a_table_of_contents(framework_pdf: bytes) -> None:
    reader = _read(framework_pdf)
    titles = _outline(reader)
    for title in ("Executive summary", "Controls", "H1 · Record ePHI activity", "H4 · Policies on file",
                  "Lineage: credit-scoring v7", "Approval signature manifests",
                  "Release 12 · credit-scoring v7 → production", "Deployments", "Violations",
                  "Appendix: audit evidence", "Checkpoint", "Inclusion proofs"):
        assert title in titles
    contents = reader.pages[1].extract_text()
    assert "Contents" in contents
    assert "H2 · Minimum necessary access" in contents and "Appendix: audit evidence" in contents


def test_a_long_table_splits_across_pages_with_its_header_repeated(framework_pdf: bytes) -> None:
    pages = _pages(framework_pdf)
    assert len(pages) > 6
    with_rows = [t for t in pages if re.search(r"^run:\d+$", t, re.M)]
    assert len(with_rows) >= 4
    for t in with_rows:
        assert "Audit entry" in t  # the header row is repeated on every page the table runs over
    text = "\n".join(pages)
    assert "run:0\n" in text and "run:299\n" in text


def test_it_caps_very_long_tables_and_says_where_the_rest_is() -> None:
    text = "\n".join(_pages(pdf.render(bundles.framework(evidence_rows=pdf.ROW_CAP + 20))))
    assert f"Showing the first {pdf.ROW_CAP} of {pdf.ROW_CAP + 20} rows" in text
    assert "controls[0].evidence.rows" in text
    assert f"run:{pdf.ROW_CAP - 1}\n" in text
    assert f"run:{pdf.ROW_CAP + 19}\n" not in text


def test_hostile_names_print_literally(hostile_pdf: bytes) -> None:
    reader = _read(hostile_pdf)
    text = "\n".join(p.extract_text() for p in reader.pages)
    for name in ("<script>alert(1)</script>", "<para>", "<b>x</b>", "&amp;", "Report <b>bold</b> & <para>"):
        assert name in text
    assert "x\x00y" not in text and "xy" in text  # NUL is dropped for display, the rest kept
    # a right-to-left override is shown as its code point, as on every page (portal.lib.text.neutralise)
    assert "\u202e" not in text and "a[U+202E]b" in _flat(text)
    assert "n" * 500 in _flat(text)  # the 5,000-character name wraps instead of overflowing
    assert "morecharactersintheJSONbundle" in _flat(text)
    assert "z" * 300 in _flat(text)
    titles = _outline(reader)
    assert "H1 · <script>alert(1)</script>" in titles and "H3 · <b>x</b>" in titles


def test_it_marks_sensitive_nodes_and_a_cut_graph(framework_pdf: bytes) -> None:
    text = "\n".join(_pages(framework_pdf))
    assert "Graph cut by the depth bound" in text
    assert "Sensitive: patients_raw (PHI), patients_clean (PHI)" in text
    assert "PHI" in text and "train run 41" in text


def test_it_lays_out_a_diagram_whose_nodes_have_no_positions() -> None:
    b = bundles.framework()
    for n in b["lineage"][0]["nodes"]:
        del n["x"], n["y"]
    text = "\n".join(_pages(pdf.render(b)))
    assert "credit-scoring v7" in text and "patients_clean" in text


def test_a_dossier_follows_annex_iv_when_asked() -> None:
    reader = _read(pdf.render(bundles.dossier(annex_iv=True)))
    titles = _outline(reader)
    for point in range(1, 10):
        assert any(t.startswith(f"Annex IV point {point}: ") for t in titles)
    text = "\n".join(p.extract_text() for p in reader.pages)
    assert "EU AI Act Annex IV structure" in text
    # the DPIA goes under point 5 (risk management), the evaluation under point 4 (performance metrics)
    p4, p5, p6 = (text.rindex(f"Annex IV point {i}: ") for i in (4, 5, 6))  # last: the body, not the contents
    assert p4 < text.index("Holdout evaluation", p4) < p5 < text.index("DPIA credit scoring", p5) < p6
    assert "Bob Stone" in text and "deployment:cs7@production" in text


def test_a_dossier_without_annex_iv_has_plain_sections() -> None:
    reader = _read(pdf.render(bundles.dossier(annex_iv=False)))
    titles = _outline(reader)
    for title in ("Summary", "Lineage", "Data", "Approval signature manifests", "Deployments", "Violations",
                  "Evidence documents", "Appendix: audit evidence"):
        assert title in titles
    assert not any("Annex IV" in t for t in titles)
    text = "\n".join(p.extract_text() for p in reader.pages)
    assert "patients_raw" in text and "DPIA credit scoring" in text


def test_the_erasure_report_lists_everything_downstream_with_its_path() -> None:
    text = "\n".join(_pages(pdf.render(bundles.erasure())))
    assert "Erasure impact report (GDPR Art. 17)" in text
    assert "dataset:patients_raw" in text
    assert "2 entities downstream, 1 with active deployments." in text
    flat = _flat(text)
    assert "dataset:1→datasetVersion:1→run:2→modelVersion:3" in flat
    assert "deployment:cs7@production" in text


def test_progress_is_monotonic_and_ends_at_100() -> None:
    calls: list[tuple[int, str]] = []
    pdf.render(bundles.framework(evidence_rows=50), progress=lambda pct, step: calls.append((pct, step)))
    percents = [p for p, _ in calls]
    assert percents == sorted(percents)
    assert percents[0] == 0 and percents[-1] == 100
    assert len({s for _, s in calls}) > 5  # it names its steps
    assert any(s == "control H2" for _, s in calls)


def test_the_same_bundle_gives_the_same_pdf() -> None:
    assert pdf.render(bundles.erasure()) == pdf.render(bundles.erasure())


@pytest.mark.parametrize("bundle", [{}, {"report": None, "controls": None, "lineage": [None, {"nodes": "x"}]},
                                    {"report": {"kind": "dossier", "annex_iv": True}, "documents": [1, None]},
                                    {"report": {"kind": "erasure"}, "erasure": {"affected": [{"path": None}]}}])
def test_it_renders_incomplete_bundles(bundle: dict) -> None:
    assert len(_read(pdf.render(bundle)).pages) >= 3


def test_cell_text_wraps_long_tokens_within_the_column() -> None:
    digest = "sha256:" + "ab" * 32
    lines = wrap(digest, 80, "Helvetica", 7).split("\n")
    assert len(lines) > 1 and "".join(lines) == digest
    assert all(stringWidth(line, "Helvetica", 7) <= 80 for line in lines)
    cut = wrap("n" * 5000, 60, "Helvetica", 7, max_lines=10).split("\n")
    assert len(cut) <= 10 and "JSON bundle" in cut[-1]


def test_clean_and_para_keep_text_literal() -> None:
    assert clean("x\x00y\tz") == "xy z"
    assert clean(None) == "\u2014"
    assert para("<b>&amp;</b>") == "&lt;b&gt;&amp;amp;&lt;/b&gt;"
    assert clean("\ud800ok") == "ok"


def test_the_pdf_is_dated_by_the_report_not_the_clock(framework_pdf: bytes) -> None:
    meta = _read(framework_pdf).metadata
    assert meta["/CreationDate"].startswith("D:20261124020000")


def _grid_diagram(n: int) -> dict:
    nodes = [{"id": f"d:{i}", "kind": "dataset", "name": f"t{i}", "tags": ["PII"] if i % 10 == 0 else [],
              "x": (i // 50) * 220.0, "y": (i % 50) * 60.0} for i in range(n)]
    edges = [{"src": f"d:{i}", "dst": f"d:{i + 50}", "kind": "reads"} for i in range(n - 50)]
    return {"title": "big", "root": "d:0", "truncated": False, "nodes": nodes, "edges": edges}


def test_a_big_diagram_is_scaled_to_the_frame_and_drawn_without_labels() -> None:
    from portal.reports import pdf_draw

    d = pdf_draw.lineage_drawing(_grid_diagram(pdf_draw.LABEL_LIMIT + 100), width=500, max_height=650,
                                 font="Helvetica", bold="Helvetica-Bold")
    assert d is not None and d.width <= 500 and d.height <= 650
    small = pdf_draw.lineage_drawing(_grid_diagram(100), width=500, max_height=650, font="Helvetica",
                                     bold="Helvetica-Bold")
    assert small is not None and small.width <= 500 and small.height <= 650


def test_a_diagram_too_big_for_a_page_is_described_not_drawn() -> None:
    from portal.reports import pdf_draw

    b = bundles.framework()
    b["lineage"] = [_grid_diagram(pdf_draw.DIAGRAM_MAX_NODES + 1)]
    text = "\n".join(_pages(pdf.render(b)))
    assert f"Not drawn: {pdf_draw.DIAGRAM_MAX_NODES + 1:,} nodes exceed" in text


def _replace_strings(value: object, new: object, keep: frozenset[str] = frozenset({"kind", "status"})) -> object:
    """Every string in ``value`` (at any depth, except under the keys in ``keep``) replaced by ``new``."""
    if isinstance(value, dict):
        return {k: v if k in keep and isinstance(v, str) else _replace_strings(v, new, keep)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_strings(v, new, keep) for v in value]
    return new if isinstance(value, str) else value


@pytest.mark.parametrize("make", [bundles.framework, lambda: bundles.dossier(annex_iv=True), bundles.erasure],
                         ids=["framework", "dossier", "erasure"])
@pytest.mark.parametrize("new", ["<b>x</b> & <para>", "x\x00y\x1b[31m", "\u202eevil\u202c", bundles.LONG_NAME, None],
                         ids=["markup", "controls", "rtl", "long", "none"])
def test_every_user_string_may_be_hostile(make: object, new: object) -> None:
    bundle = _replace_strings(make(), new)  # type: ignore[operator]
    text = "\n".join(_pages(pdf.render(bundle)))  # type: ignore[arg-type]
    if new == "<b>x</b> & <para>":
        assert "<b>x</b> & <para>" in text


def test_every_page_is_compressed(framework_pdf: bytes) -> None:
    for page in _read(framework_pdf).pages:
        contents = page["/Contents"].get_object()
        assert contents["/Filter"] in ("/FlateDecode", ["/FlateDecode"])


def test_progress_is_repeated_while_one_step_takes_long(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr(pdf.time, "monotonic", lambda: now[0])
    calls: list[tuple[int, str]] = []
    ticker = pdf._Ticker(lambda pct, step: calls.append((pct, step)))
    ticker.report(40, "control H1")
    ticker.tick()
    now[0] += pdf.HEARTBEAT * 0.5
    ticker.tick()
    assert calls == [(40, "control H1")]  # not more often than the heartbeat
    now[0] += pdf.HEARTBEAT
    ticker.tick()
    ticker.report(30, "control H1")  # never backwards
    assert calls == [(40, "control H1"), (40, "control H1")]


@pytest.mark.parametrize("when", ["2026-11-24 02:00:00", "not a date", "0001-01-01T00:00:00+14:00", None])
def test_an_odd_generation_time_does_not_stop_the_report(when: object) -> None:
    b = bundles.erasure()
    b["report"]["generated_at"] = when
    assert _read(pdf.render(b)).metadata.author == "Lineage Portal"


def test_a_wide_evidence_table_is_squeezed_into_the_page_not_cut() -> None:
    b = bundles.framework()
    b["controls"][0]["evidence"] = {"columns": [f"Column {i}" for i in range(25)],
                                    "rows": [[f"v{r}-{c}" * 3 for c in range(25)] for r in range(30)]}
    text = "\n".join(_pages(pdf.render(b)))
    assert "v29-24" in _flat(text)


@pytest.mark.parametrize("annex_iv", [False, True])
def test_a_dossier_shows_the_model_its_data_and_break_glass_releases(annex_iv: bool) -> None:
    text = "\n".join(_pages(pdf.render(bundles.dossier(annex_iv=annex_iv))))
    assert "credit-scoring v7 (modelVersion:3)" in text
    assert "consumer credit limits" in text and "not for mortgages" in text and "risk-team" in text
    assert "auc" in text and "0.91" in text and "fairness.dp_gap" in text and "max_depth" in text
    assert "Art. 6(1)(b) contract" in text and "Art. 9(2)(h)" in text and "LEGAL HOLD" in text
    assert "Break-glass release" in text
    assert "24 November 2026" in text and "T01:00:00" not in text  # the checkpoint's time, in words
    assert "0.1.0+test" in text  # the portal version on the cover


def test_an_annex_iv_dossier_puts_metrics_under_point_4() -> None:
    text = "\n".join(_pages(pdf.render(bundles.dossier(annex_iv=True))))
    p4, p5 = text.rindex("Annex IV point 4: "), text.rindex("Annex IV point 5: ")
    assert p4 < text.index("fairness.dp_gap", p4) < p5


def test_a_chain_never_verified_says_so() -> None:
    b = bundles.framework()
    b["audit"]["chain"]["ok"] = None
    text = "\n".join(_pages(pdf.render(b)))
    assert "no verification on record" in text and "Audit chain: VERIFIED" not in text


def test_a_dossier_shows_which_sensitive_column_reaches_which_trained_on_column() -> None:
    b = bundles.dossier(annex_iv=False)
    b["column_paths"] = [{"model": "modelVersion:3", "trained_on": 2, "truncated": False, "paths": [
        {"tag": "PII", "kind": "carries", "source": {"dataset": "dataset:pg:crm.customers", "field": "ssn"},
         "feature": {"dataset": "dataset:s3:features", "field": "ssn_hash"}},
        {"tag": "PII", "kind": "influencedBy", "source": {"dataset": "dataset:pg:crm.customers", "field": "email"},
         "feature": {"dataset": "dataset:s3:features", "field": "sessions"}}],
        "not_stopped": [{"run": "run:77", "job": "deidentify", "reason": "marked de-identifying, but no approved "
                         "de-identification determination"}]}]
    reader = _read(pdf.render(b))
    assert "Sensitive data by column" in _outline(reader)
    flat = _flat("\n".join(p.extract_text() for p in reader.pages))
    assert "pg:crm.customers·ssn" in flat and "s3:features·ssn_hash" in flat and "carries(DIRECT)" in flat
    assert "pg:crm.customers·email" in flat and "influencedby(INDIRECT)" in flat
    assert "Notstopped:runrun:77(deidentify)" in flat


def test_a_dossier_without_column_lineage_has_no_column_section() -> None:
    assert "Sensitive data by column" not in _outline(_read(pdf.render(bundles.dossier(annex_iv=False))))
