"""The review loop on the 单篇审核 tab: queue → report → decide findings → conclusion → next report, by keyboard.

    S  逐篇审核 (on the 批量审核 tab: start with the queue as filtered and sorted there)
    J / K  下一条 / 上一条审核发现      C  确认      X  驳回 (asks for a comment)
    A  通过 (with errors still open: asks for a comment and confirms "在 N 项错误未更正的情况下通过")
    R  退回修改 (asks for a comment)      N  下一篇
    In the comment box: 1–9 (box empty) takes that 常用意见, Enter submits, Esc cancels.

A conclusion (通过 / 退回修改) opens the next report of the queue at once; 确认 / 驳回 move to the next undecided
finding. The buttons show the keys; the keys click the buttons (render.HEAD's script), so both do the same.
"""
from review.ui import render, service
from review.ui.render import REPORT_ACTIONS, esc
from review.ui.service import Refused

KEYS = [("prev", "上一条", "K"), ("next", "下一条", "J"), ("confirm", "确认", "C"), ("dismiss", "驳回", "X"),
        ("approve", "通过", "A"), ("return", "退回修改", "R"), ("nextrep", "下一篇", "N")]
PROMPT = {"dismiss": "驳回这条审核发现：请填写理由",
          "return": "退回修改：请填写意见（将写入审核意见书）",
          "approve": "确认在错误未更正的情况下通过：请填写意见"}


def layout(ctx) -> None:
    """The loop's bar (progress, shortcut buttons) and the comment panel; built at the top of 单篇审核."""
    gr = ctx.gr
    ctx.loop = gr.State(None)  # {"shas": [...], "i": int, "batch": name}: the queue being reviewed in order
    ctx.k_pending = gr.State(None)  # the action waiting for its comment: dismiss | return | approve
    ctx.loop_info = gr.HTML(loop_html(None), elem_id="nb-loop-info")
    with gr.Row(elem_id="nb-keys"):
        ctx.k = {}
        for key, label, letter in KEYS:
            ctx.k[key] = gr.Button(f"{label}（{letter}）", size="sm", elem_id=f"nb-k-{key}", min_width=60,
                                   variant="primary" if key in ("approve", "confirm") else "secondary")
    with gr.Group(visible=False, elem_id="nb-k-panel") as ctx.k_panel:
        ctx.k_prompt = gr.HTML("", elem_id="nb-k-prompt")
        ctx.k_comment = gr.Textbox(label="意见", show_label=False, lines=1, max_lines=1, elem_id="nb-k-comment",
                                   placeholder="输入意见后按回车提交；意见框为空时按数字键 1–9 选用常用意见；Esc 取消")
        ctx.k_stock = gr.HTML(stock_html(service.stock_comments(ctx.services)), elem_id="nb-k-stock-box")
        with gr.Row():
            ctx.k_submit = gr.Button("提交（回车）", variant="primary", size="sm", elem_id="nb-k-submit")
            ctx.k_cancel = gr.Button("取消（Esc）", size="sm", elem_id="nb-k-cancel")


def loop_html(loop, note: str = "") -> str:
    keys = "　".join(f"<kbd>{k}</kbd> {label}" for _, label, k in KEYS)
    help_ = (f"<span class='nb-muted'>快捷键：{keys}　（批量审核页 <kbd>S</kbd> 开始逐篇审核；意见框中 <kbd>1</kbd>–"
             f"<kbd>9</kbd> 选用常用意见，<kbd>回车</kbd> 提交，<kbd>Esc</kbd> 取消）</span>")
    if not loop:
        where = "未在逐篇审核：在“批量审核”页点击“逐篇审核”（或按 S）按队列顺序逐篇审核。"
    elif loop["i"] >= len(loop["shas"]):
        where = f"<b>逐篇审核完毕：</b>队列中的 {len(loop['shas'])} 篇已全部看过。"
    else:
        where = f"<b>逐篇审核：</b>第 <b id='nb-loop-pos'>{loop['i'] + 1}</b> / {len(loop['shas'])} 篇"
    extra = f"　<span class='nb-note' style='border:0'>{esc(note)}</span>" if note else ""
    return f"<div class='nb-meta' id='nb-loop'>{where}{extra}<br>{help_}</div>"


def stock_html(comments: list[str]) -> str:
    items = "".join(f"<li>{esc(c)}</li>" for c in comments[:9])
    return (f"<div class='nb-muted'>常用意见（意见框为空时按数字键选用；可在“审核结论与记录”页编辑）：</div>"
            f"<ol id='nb-k-stock'>{items}</ol>")


def _panel(ctx, pending, prompt: str) -> dict:
    gr = ctx.gr
    return {ctx.k_panel: gr.update(visible=True), ctx.k_pending: pending, ctx.k_comment: "",
            ctx.k_prompt: f"<div class='nb-meta' id='nb-k-prompt-text'><b>{esc(prompt)}</b></div>",
            ctx.k_stock: stock_html(service.stock_comments(ctx.services))}


def _closed(ctx) -> dict:
    return {ctx.k_panel: ctx.gr.update(visible=False), ctx.k_pending: None, ctx.k_comment: ""}


def _neighbour(st, fp, step: int, undecided_only: bool = False, cur=None):
    """The finding after (step 1) or before (step -1) `fp` in the page's order (errors first)."""
    fps = [f.fingerprint for f in render.ordered(st["rv"].result.findings)]
    if not fps:
        return None
    if undecided_only:
        decided = (cur or {}).get("findings", {})
        start = fps.index(fp) if fp in fps else -1
        rest = fps[start + 1:] + fps[:max(start, 0)]
        return next((x for x in rest if x not in decided), None)
    if fp not in fps:
        return fps[0] if step > 0 else fps[-1]
    return fps[max(0, min(len(fps) - 1, fps.index(fp) + step))]


def first_finding(st, cur) -> str | None:
    """Where the loop starts on a report: the first failing finding not yet decided (errors first)."""
    decided = cur.get("findings", {})
    fails = [f for f in render.ordered(st["rv"].result.findings) if f.status == "fail"]
    return next((f.fingerprint for f in fails if f.fingerprint not in decided), None)


def open_at(ctx, loop, progress, note: str = "") -> dict:
    """Open the loop's report number loop["i"] (or say the queue is done)."""
    gr = ctx.gr
    if loop["i"] >= len(loop["shas"]):
        return {ctx.loop: loop, ctx.loop_info: loop_html(loop, note), **_closed(ctx)}
    sha = loop["shas"][loop["i"]]
    content, source = service.report_bytes(ctx.services, sha, loop.get("batch"))
    out = ctx.review_bytes(content, source, progress)
    st = out[ctx.state]
    fp = first_finding(st, ctx.db.current(st["rv"].result.sha256))
    out.update({ctx.loop: loop, ctx.loop_info: loop_html(loop, note), ctx.tabs: gr.Tabs(selected="review"),
                ctx.chosen: gr.update(choices=render.finding_choices(st["rv"].result), value=fp), **_closed(ctx)})
    return out


def advance(ctx, loop, progress, note: str = "") -> dict:
    if not loop:
        return {ctx.loop_info: loop_html(None, note), **_closed(ctx)}
    return open_at(ctx, {**loop, "i": loop["i"] + 1}, progress, note)


def OUTPUTS(ctx) -> list:  # noqa: N802
    return list(dict.fromkeys([*ctx.opened_outputs, ctx.loop, ctx.loop_info, ctx.tabs, ctx.k_panel, ctx.k_pending,
                               ctx.k_comment, ctx.k_prompt, ctx.k_stock, ctx.f_current]))


FOCUS_JS = """() => {  // the comment box takes the keys once it shows; otherwise nothing keeps the focus
  let tries = 0;
  const tick = () => {
    const t = document.querySelector("#nb-k-comment textarea, #nb-k-comment input");
    if (t && t.offsetParent) { t.focus(); return; }
    if (++tries < 40) { setTimeout(tick, 50); return; }
    if (document.activeElement) document.activeElement.blur();
  };
  setTimeout(tick, 30);
}"""


def wire(ctx) -> None:
    gr = ctx.gr
    outputs = OUTPUTS(ctx)

    def then_focus(event):
        event.then(None, None, None, js=FOCUS_JS)

    @ctx.guarded
    def on_start(shas, batch_name, name, request: gr.Request, progress=gr.Progress()):
        ctx.reviewer_of(name, request)  # the name first: every key press records under it
        if not shas:
            raise Refused("队列为空：请先运行批量审核，或调整筛选条件。")
        return open_at(ctx, {"shas": list(shas), "i": 0, "batch": batch_name}, progress)

    ctx.bq.loop.click(on_start, inputs=[ctx.bq.rows, ctx.bq.batch, ctx.reviewer], outputs=outputs, show_progress_on=[ctx.loop_info])

    def nav(step: int):
        @ctx.guarded
        def handler(st, fp):
            ctx.need_report(st)
            return {ctx.chosen: _neighbour(st, fp, step)}
        return handler

    ctx.k["next"].click(nav(1), inputs=[ctx.state, ctx.chosen], outputs=[ctx.chosen])
    ctx.k["prev"].click(nav(-1), inputs=[ctx.state, ctx.chosen], outputs=[ctx.chosen])

    from review.ui import tab_review

    def finding_then_next(st, fp, action, comment, name, request) -> dict:
        out = tab_review.decide_finding(ctx, st, fp, action, comment, name, request)
        nxt = _neighbour(st, fp, 1, undecided_only=True, cur=ctx.db.current(st["rv"].result.sha256))
        out.update({ctx.chosen: nxt or fp, **_closed(ctx)})
        return out

    @ctx.guarded
    def on_confirm(st, fp, name, request: gr.Request):
        return finding_then_next(st, fp, "确认", "", name, request)

    ctx.k["confirm"].click(on_confirm, inputs=[ctx.state, ctx.chosen, ctx.reviewer], outputs=outputs, show_progress_on=[ctx.loop_info])

    @ctx.guarded
    def on_dismiss(st, fp):
        ctx.need_report(st)
        if not fp:
            raise Refused("请先用 J / K 选中一条审核发现，再按 X 驳回。")
        return _panel(ctx, "dismiss", PROMPT["dismiss"])

    then_focus(ctx.k["dismiss"].click(on_dismiss, inputs=[ctx.state, ctx.chosen], outputs=outputs, show_progress_on=[ctx.loop_info]))

    def conclude_then_next(st, action, comment, name, request, loop, progress, confirmed=False) -> dict:
        st = ctx.need_report(st)
        who = ctx.reviewer_of(name, request)
        rv = st["rv"]
        try:
            dec = service.conclude(ctx.services, who=who, sha256=rv.result.sha256, source=rv.result.source,
                                   action=REPORT_ACTIONS[action], comment=comment, findings=rv.result.findings,
                                   confirm_open_errors=confirmed)
        except service.NeedsConfirmation as e:  # errors still open: the comment and the confirmation, here
            return _panel(ctx, "approve", f"本报告还有 {e.open_errors} 项错误未处理（未驳回）。{PROMPT['approve']}，"
                                          f"回车即确认“在 {e.open_errors} 项错误未更正的情况下通过”")
        n = dec.payload.get("open_errors")
        ctx.info(f"已保存审核结论：{action}{f'（{n} 项错误未更正）' if n else ''}，审核人 {who}，记录号 {dec.id}",
                 title="已保存")
        out = ctx.refreshed(st)
        out.update(_closed(ctx))
        if loop:
            out.update(advance(ctx, loop, progress, note=f"上一篇已记录：{action}"))
        return out

    @ctx.guarded
    def on_approve(st, name, loop, request: gr.Request, progress=gr.Progress()):
        return conclude_then_next(st, "通过", "", name, request, loop, progress)

    then_focus(ctx.k["approve"].click(on_approve, inputs=[ctx.state, ctx.reviewer, ctx.loop], outputs=outputs, show_progress_on=[ctx.loop_info]))

    @ctx.guarded
    def on_return(st, name, request: gr.Request):
        ctx.need_report(st)
        ctx.reviewer_of(name, request)
        return _panel(ctx, "return", PROMPT["return"])

    then_focus(ctx.k["return"].click(on_return, inputs=[ctx.state, ctx.reviewer], outputs=outputs, show_progress_on=[ctx.loop_info]))

    @ctx.guarded
    def on_submit(pending, comment, st, fp, name, loop, request: gr.Request, progress=gr.Progress()):
        if not pending:
            return gr.skip()
        if not (comment or "").strip():
            raise Refused("请填写意见（意见框为空时按数字键 1–9 选用常用意见），再按回车提交。")
        if pending == "dismiss":
            return finding_then_next(st, fp, "驳回", comment, name, request)
        if pending == "return":
            return conclude_then_next(st, "退回修改", comment, name, request, loop, progress)
        return conclude_then_next(st, "通过", comment, name, request, loop, progress, confirmed=True)

    sub_in = [ctx.k_pending, ctx.k_comment, ctx.state, ctx.chosen, ctx.reviewer, ctx.loop]
    then_focus(ctx.k_submit.click(on_submit, inputs=sub_in, outputs=outputs, show_progress_on=[ctx.loop_info]))
    then_focus(ctx.k_comment.submit(on_submit, inputs=sub_in, outputs=outputs, show_progress_on=[ctx.loop_info]))
    then_focus(ctx.k_cancel.click(lambda: _closed(ctx), inputs=None, outputs=outputs, show_progress_on=[ctx.loop_info]))

    @ctx.guarded
    def on_next_report(loop, progress=gr.Progress()):
        if not loop:
            raise Refused("未在逐篇审核：请在“批量审核”页点击“逐篇审核”（或按 S）。")
        return advance(ctx, loop, progress)

    ctx.k["nextrep"].click(on_next_report, inputs=[ctx.loop], outputs=outputs, show_progress_on=[ctx.loop_info])
