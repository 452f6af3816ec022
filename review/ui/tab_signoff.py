"""The 审核结论与记录 tab: 通过 / 退回修改 for the open report (通过 with errors still open asks for a
confirmation and a comment), the decisions in force and the audit log."""

from review.ui import render, service
from review.ui.render import REPORT_ACTIONS


def layout(ctx) -> None:
    gr = ctx.gr
    with gr.Row(equal_height=False):
        with gr.Column(scale=2):
            gr.HTML("<b>对本篇年报作出审核结论</b>")
            ctx.r_action = gr.Radio(list(REPORT_ACTIONS), value="通过", label="结论", elem_id="nb-report-action")
            ctx.r_comment = gr.Textbox(label="意见（退回修改时必填）", lines=3, elem_id="nb-report-comment")
            ctx.r_save = gr.Button("提交审核结论", variant="primary", elem_id="nb-report-save")
            with gr.Group(visible=False, elem_id="nb-report-confirm") as ctx.r_confirm:
                ctx.r_confirm_text = gr.HTML("", elem_id="nb-report-confirm-text")
                with gr.Row():
                    ctx.r_yes = gr.Button("确认：在错误未更正的情况下通过", variant="stop", elem_id="nb-report-yes")
                    ctx.r_no = gr.Button("取消", elem_id="nb-report-no")
        with gr.Column(scale=3):
            gr.HTML("<b>当前决定</b>")
            ctx.current = gr.HTML("", elem_id="nb-current-box")
    gr.HTML("<b>审核记录（本报告此版本）</b>")
    ctx.audit = gr.HTML("", elem_id="nb-audit-box")
    with gr.Accordion("常用意见（全组共用，每行一条；逐篇审核时按数字键 1–9 选用）", open=False, elem_id="nb-stock-acc"):
        ctx.stock_text = gr.Textbox(value="\n".join(service.stock_comments(ctx.services)), lines=6, show_label=False,
                                    elem_id="nb-stock-text")
        ctx.stock_save = gr.Button("保存常用意见", elem_id="nb-stock-save")


def REFRESHES(ctx) -> list:  # noqa: N802
    return [ctx.current, ctx.audit]


def OPENS(ctx) -> list:  # noqa: N802
    return [ctx.r_comment, ctx.r_confirm]


def refreshed(ctx, st, cur) -> dict:
    result = st["rv"].result
    return {ctx.current: render.current_html(cur, result, ctx.services),
            ctx.audit: render.audit_html(ctx.db.decisions(result.sha256), result, ctx.services)}


def opened(ctx, st, cur) -> dict:
    return {ctx.r_comment: "", ctx.r_confirm: ctx.gr.update(visible=False)}


def confirm_html(n: int) -> str:
    return (f"<div class='nb-meta nb-err' id='nb-confirm-open'>本报告还有 {n} 项错误未处理（未驳回）。"
            f"确认在这些错误未更正的情况下通过？必须填写意见；审核记录和审核意见书将注明“在 {n} 项错误未更正的情况下通过”。</div>")


def conclude(ctx, st, action: str, comment: str, name: str, request, confirmed: bool = False) -> dict:
    """Record the conclusion for the open report; 通过 with open errors first shows the confirmation."""
    gr = ctx.gr
    st = ctx.need_report(st)
    who = ctx.reviewer_of(name, request)
    rv = st["rv"]
    try:
        dec = service.conclude(ctx.services, who=who, sha256=rv.result.sha256, source=rv.result.source,
                               action=REPORT_ACTIONS.get(action, action), comment=comment,
                               findings=rv.result.findings, confirm_open_errors=confirmed)
    except service.NeedsConfirmation as e:
        ctx.warn(e.message)
        return {ctx.r_confirm: gr.update(visible=True), ctx.r_confirm_text: confirm_html(e.open_errors)}
    n = dec.payload.get("open_errors")
    extra = f"，{n} 项错误未更正" if n else ""
    ctx.info(f"已保存审核结论：{render.ACTION_ZH[('report', dec.action)]}{extra}（审核人 {who}，记录号 {dec.id}）",
             title="已保存")
    out = ctx.refreshed(st)
    out.update({ctx.r_comment: "", ctx.r_confirm: gr.update(visible=False)})
    return out


def wire(ctx) -> None:
    gr = ctx.gr
    outputs = [*ctx.refresh_outputs, ctx.r_comment, ctx.r_confirm, ctx.r_confirm_text]

    @ctx.guarded
    def on_save(action, comment, name, st, request: gr.Request):
        return conclude(ctx, st, action, comment, name, request)

    ctx.r_save.click(on_save, inputs=[ctx.r_action, ctx.r_comment, ctx.reviewer, ctx.state], outputs=outputs)

    @ctx.guarded
    def on_yes(comment, name, st, request: gr.Request):
        return conclude(ctx, st, "approve", comment, name, request, confirmed=True)

    ctx.r_yes.click(on_yes, inputs=[ctx.r_comment, ctx.reviewer, ctx.state], outputs=outputs)
    ctx.r_no.click(lambda: gr.update(visible=False), inputs=None, outputs=[ctx.r_confirm])

    @ctx.guarded
    def on_stock(text):
        comments = service.save_stock_comments(ctx.services, text)
        ctx.info(f"已保存常用意见 {len(comments)} 条。", title="已保存")
        return "\n".join(comments)

    ctx.stock_save.click(on_stock, inputs=[ctx.stock_text], outputs=[ctx.stock_text])


