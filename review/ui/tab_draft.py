"""The 第五部分草稿 tab: a draft of part 五 from the findings and earlier reports, its sources and its
repetition against last year's; 采用 / 不采用 recorded with the text."""

from review.models import ReviewError
from review.ui import render
from review.ui.render import ACTION_ZH, esc
from review.ui.service import Refused


def layout(ctx) -> None:
    gr = ctx.gr
    gr.HTML("<p class='nb-muted'>根据审核发现和往年材料起草年报第五部分（存在的主要问题及改进情况），"
            "请审核人员修改后决定是否采用。</p>")
    ctx.make_draft = gr.Button("生成第五部分草稿", elem_id="nb-make-draft")
    ctx.draft_prev = gr.HTML("", elem_id="nb-draft-prev")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            ctx.draft_text = gr.Textbox(label="草稿（可直接修改）", lines=16, elem_id="nb-draft-text", interactive=True)
            ctx.draft_rep = gr.HTML("", elem_id="nb-draft-rep")
        with gr.Column(scale=2):
            ctx.draft_src = gr.HTML("", elem_id="nb-draft-src")
    ctx.d_comment = gr.Textbox(label="意见（可选）", lines=1, elem_id="nb-draft-comment")
    with gr.Row():
        ctx.d_accept = gr.Button("采用", variant="primary", elem_id="nb-draft-accept")
        ctx.d_reject = gr.Button("不采用", elem_id="nb-draft-reject")


def OPENS(ctx) -> list:  # noqa: N802
    return [ctx.d_comment, ctx.draft_src, ctx.draft_rep, ctx.draft_text, ctx.draft_prev]


def opened(ctx, st, cur) -> dict:
    prev = cur.get("draft")
    return {ctx.d_comment: "", ctx.draft_src: "", ctx.draft_rep: "",
            ctx.draft_text: prev.payload.get("text", "") if prev else "",
            ctx.draft_prev: (f"<div class='nb-note'>下面是此前保存的草稿（{esc(render.decision_text(prev, ctx.services))}，"
                             f"{esc(render.local_time(prev.at))}）。</div>" if prev else "")}


def wire(ctx) -> None:
    gr = ctx.gr

    @ctx.guarded
    def on_draft(st, progress=gr.Progress()):
        st = ctx.need_report(st)
        progress(0.1, desc="正在起草第五部分…")
        try:
            d = ctx.a.draft(st["rv"])
        except ReviewError as e:
            raise Refused(f"无法生成草稿：{e.zh}") from None
        return {ctx.draft_text: d.text(), ctx.draft_src: render.draft_sources_html(d),
                ctx.draft_rep: render.repetition_html(d), ctx.draft_prev: ""}

    ctx.make_draft.click(on_draft, inputs=[ctx.state],
                         outputs=[ctx.draft_text, ctx.draft_src, ctx.draft_rep, ctx.draft_prev])

    def draft_decision(action: str):
        @ctx.guarded
        def handler(text, comment, name, st, request: gr.Request):
            st = ctx.need_report(st)
            if not (text or "").strip():
                raise Refused("草稿为空：请先生成草稿或填写内容。")
            who = ctx.reviewer_of(name, request)
            rv = st["rv"]
            dec = ctx.record(reviewer=who, report_sha256=rv.result.sha256, source=rv.result.source, kind="draft",
                             action=action, comment=comment or "", payload={"text": text})
            ctx.info(f"已保存：草稿{ACTION_ZH[('draft', action)]}（审核人 {who}，记录号 {dec.id}）", title="已保存")
            out = ctx.refreshed(st)
            out[ctx.d_comment] = ""
            return out
        return handler

    for button, action in ((ctx.d_accept, "approve"), (ctx.d_reject, "reject")):
        button.click(draft_decision(action), inputs=[ctx.draft_text, ctx.d_comment, ctx.reviewer, ctx.state],
                     outputs=[*ctx.refresh_outputs, ctx.d_comment])
