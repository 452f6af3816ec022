"""The 单篇审核 tab: the open report's findings (errors first), the selected finding's explanation and the
cells it points at, its decision (确认 / 驳回), the tables and the report's text."""

from typing import Optional

from review.models import ReviewError
from review.ui import loop, render, source
from review.ui.render import FINDING_ACTIONS, FINDING_HEADERS, esc
from review.ui.service import Refused

HINT = "<p class='nb-muted'>在上表中点击一条审核发现，这里显示它的解释。</p>"


def layout(ctx) -> None:
    gr = ctx.gr
    loop.layout(ctx)  # the review loop's bar and comment panel, above the findings
    ctx.findings = gr.Dataframe(value=[], headers=FINDING_HEADERS, datatype="str", interactive=False, wrap=True,
                                label="审核发现（点击一行查看解释；错误在前）", elem_id="nb-findings",
                                column_widths=["7%", "20%", "43%", "14%", "9%", "7%"], max_height=640)
    ctx.chosen = gr.Dropdown(label="选中的审核发现", choices=[], value=None, elem_id="nb-chosen", interactive=True)
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            ctx.explanation = gr.HTML(HINT, elem_id="nb-explanation")
        with gr.Column(scale=2):
            gr.HTML("<b>对选中的审核发现作出决定</b>")
            ctx.f_current = gr.HTML("", elem_id="nb-finding-current")
            ctx.f_action = gr.Radio(list(FINDING_ACTIONS), value="确认", label="决定", elem_id="nb-finding-action")
            ctx.f_comment = gr.Textbox(label="意见（驳回时必填）", lines=2, elem_id="nb-finding-comment")
            ctx.f_save = gr.Button("保存此条决定", variant="primary", elem_id="nb-finding-save")
    with gr.Accordion("原文对照（选中的审核发现在原文中的位置；PDF 显示页面和红框）", open=True, elem_id="nb-src-acc"):
        ctx.cite_line = gr.Textbox(label="引用的行", elem_id="nb-cite-line", elem_classes=["nb-hidden"])
        with gr.Row(equal_height=False):
            with gr.Column(scale=2):
                ctx.src_text = gr.HTML("<p class='nb-muted'>选中一条审核发现，或点击解释、对话中的“第 N 行”，"
                                       "这里显示原文的那一行。</p>", elem_id="nb-src-box")
            with gr.Column(scale=3):
                ctx.src_caption = gr.HTML("", elem_id="nb-src-caption")
                ctx.src_page = gr.Image(label="PDF 页面", type="filepath", interactive=False, visible=False,
                                        elem_id="nb-src-page", buttons=["fullscreen"], height=720)
    with gr.Accordion("统计表格（表二、表三、表四）", open=True):
        ctx.tables = gr.HTML("", elem_id="nb-tables")
    with gr.Accordion("年报原文（带行号）", open=False, elem_id="nb-lines-acc"):
        ctx.lines = gr.HTML("", elem_id="nb-lines-box")


def REFRESHES(ctx) -> list:  # noqa: N802
    return [ctx.findings]


def OPENS(ctx) -> list:  # noqa: N802
    return [ctx.chosen, ctx.f_current, ctx.explanation, ctx.tables, ctx.lines, ctx.f_comment, ctx.src_text,
            ctx.src_caption, ctx.src_page]


def refreshed(ctx, st, cur) -> dict:
    return {ctx.findings: render.finding_rows(st["rv"].result, cur, ctx.services)}


def opened(ctx, st, cur) -> dict:
    rv = st["rv"]
    return {ctx.chosen: ctx.gr.update(choices=render.finding_choices(rv.result), value=None), ctx.f_current: "",
            ctx.explanation: HINT, ctx.tables: render.tables_html(rv.result),
            ctx.lines: render.lines_html(rv.report.lines, rv.result), ctx.f_comment: "",
            ctx.src_text: "", ctx.src_caption: "", ctx.src_page: ctx.gr.update(value=None, visible=False)}


def source_at(ctx, st, line, cell=None, table=None, title: str = "") -> dict:
    """The source view: the text around the line, and for a PDF the page with the cell's (or line's) box."""
    gr = ctx.gr
    rv = st["rv"]
    out = {ctx.src_text: source.text_html(rv.report.lines, line, title), ctx.src_caption: "",
           ctx.src_page: gr.update(value=None, visible=False)}
    if st.get("pdf") and line:
        path, caption = source.pdf_view(st["pdf"], rv.report.lines, line, cell, rv.result, table, source.out_dir(),
                                        rv.result.sha256[:16] + f"-l{line}")
        out[ctx.src_caption] = f"<div class='nb-meta' id='nb-src-caption-text'>{esc(caption)}</div>"
        if path is not None:
            out[ctx.src_page] = gr.update(value=str(path), visible=True)
    return out


def finding_current(ctx, sha: str, fp: Optional[str]) -> str:
    if not fp:
        return ""
    dec = ctx.db.current(sha)["findings"].get(fp)
    if dec is None:
        return "<div class='nb-muted'>当前决定：未处理</div>"
    return (f"<div>当前决定：<b>{esc(render.decision_text(dec, ctx.services))}</b>，{esc(render.local_time(dec.at))}"
            f"{('，意见：' + esc(dec.comment)) if dec.comment else ''}</div>")


def show_finding(ctx, st, fp: Optional[str]) -> dict:
    """The selected finding's explanation, its cells outlined in the tables, its current decision."""
    if not st or not fp:
        return {ctx.explanation: HINT, ctx.tables: render.tables_html(st["rv"].result) if st else "",
                ctx.f_current: ""}
    rv = st["rv"]
    f = next((x for x in rv.result.findings if x.fingerprint == fp), None)
    if f is None:
        raise Refused("这条审核发现不属于当前打开的年报，请重新选择。")
    try:
        expl = ctx.a.explain(rv, f)
    except ReviewError as e:
        raise Refused(f"无法生成解释：{e.zh}") from None
    dec = ctx.db.current(rv.result.sha256)["findings"].get(fp)
    action = next((zh for zh, en in FINDING_ACTIONS.items() if dec and dec.action == en), "确认")
    line, cell = source.target(rv.result, f)
    return {ctx.explanation: render.cite_links(render.explanation_html(f, expl)),
            ctx.tables: render.tables_html(rv.result, fp),
            ctx.f_current: finding_current(ctx, rv.result.sha256, fp), ctx.f_action: action,
            **source_at(ctx, st, line, cell, f.table, render.where(f))}


def decide_finding(ctx, st, fp, action: str, comment: str, name: str, request) -> dict:
    st = ctx.need_report(st)
    if not fp:
        raise Refused("请先在审核发现表中点击选中一条，再保存决定。")
    rv = st["rv"]
    if not any(f.fingerprint == fp for f in rv.result.findings):
        raise Refused("这条审核发现不属于当前打开的年报，请重新选择。")
    who = ctx.reviewer_of(name, request)
    if action not in FINDING_ACTIONS:
        raise Refused("请选择“确认”或“驳回”。")
    dec = ctx.record(reviewer=who, report_sha256=rv.result.sha256, source=rv.result.source, kind="finding",
                     action=FINDING_ACTIONS[action], fingerprint=fp, comment=comment or "")
    ctx.info(f"已保存：{action}（编号 {fp}，审核人 {who}，记录号 {dec.id}）", title="已保存")
    out = ctx.refreshed(st)
    out[ctx.f_comment] = ""
    out[ctx.f_current] = finding_current(ctx, rv.result.sha256, fp)
    return out


def wire(ctx) -> None:
    gr = ctx.gr

    def on_select(st, evt: gr.SelectData):
        if not st:
            return gr.skip()
        row = evt.row_value
        if not row and isinstance(evt.index, (list, tuple)):
            rows = render.ordered(st["rv"].result.findings)
            i = evt.index[0]
            row = [None] * 5 + [rows[i].fingerprint] if 0 <= i < len(rows) else None
        if not row or len(row) < len(FINDING_HEADERS):
            return gr.skip()
        return row[len(FINDING_HEADERS) - 1]

    ctx.findings.select(on_select, inputs=[ctx.state], outputs=[ctx.chosen])

    @ctx.guarded
    def on_chosen(fp, st, progress=gr.Progress()):
        progress(0.1, desc="正在生成解释…")
        return show_finding(ctx, st, fp)

    ctx.chosen.change(on_chosen, inputs=[ctx.chosen, ctx.state],
                      outputs=[ctx.explanation, ctx.tables, ctx.f_current, ctx.f_action, ctx.src_text,
                               ctx.src_caption, ctx.src_page],
                      show_progress_on=[ctx.explanation])

    @ctx.guarded
    def on_cite(value, st):
        """A "第 N 行" clicked in an explanation or a chat answer: the source view at that line."""
        if not st or not value:
            return gr.skip()
        value = str(value)
        if value.startswith("cell:"):  # a table cell clicked: "cell:table|row|column|time"
            parts = value[5:].split("|")
            if len(parts) < 3:
                return gr.skip()
            table, key, column = parts[:3]
            name = {"disclosure": "item", "applications": "row", "appeals": "group"}.get(table)
            c = source.cell_of(st["rv"].result, table, {name: key, "column": column}) if name else None
            if c is None or not c.line:
                return gr.skip()
            return source_at(ctx, st, c.line, c, table, f"{key}/{column}")
        try:
            line = int(value.split("|")[0])
        except ValueError:
            return gr.skip()
        return source_at(ctx, st, line, title="（引用）")

    ctx.cite_line.change(on_cite, inputs=[ctx.cite_line, ctx.state], outputs=[ctx.src_text, ctx.src_caption, ctx.src_page],
                        show_progress_on=[ctx.src_caption])

    @ctx.guarded
    def on_save(fp, action, comment, name, st, request: gr.Request):
        return decide_finding(ctx, st, fp, action, comment, name, request)

    ctx.f_save.click(on_save, inputs=[ctx.chosen, ctx.f_action, ctx.f_comment, ctx.reviewer, ctx.state],
                     outputs=[*ctx.refresh_outputs, ctx.f_comment, ctx.f_current])
