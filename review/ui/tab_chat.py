"""The 对话 tab: questions about the open report, answered by the assistant (offline without an LLM); numbers
the answer cannot support are marked, citations listed."""

from review.models import ReviewError
from review.ui import render
from review.ui.render import NO_REPORT, esc


def layout(ctx) -> None:
    gr = ctx.gr
    ctx.chat_state = gr.State(None)  # {"sha256": str, "history": [...]}: the LLM-side conversation
    ctx.chatbot = gr.Chatbot(label="就本篇年报提问", height=420, elem_id="nb-chatbot", render_markdown=True,
                             sanitize_html=True, feedback_options=None, buttons=["copy", "copy_all"],
                             placeholder="例如：为什么自然人列不平？表三哪些数字需要核实？")
    with gr.Row():
        ctx.question = gr.Textbox(show_label=False, placeholder="输入问题，回车发送", scale=5, elem_id="nb-question",
                                  max_lines=3)
        ctx.ask = gr.Button("发送", variant="primary", scale=1, elem_id="nb-ask")
        ctx.clear = gr.Button("清空对话", scale=1, elem_id="nb-clear")
    ctx.chat_note = gr.HTML("", elem_id="nb-chat-note-box")


def OPENS(ctx) -> list:  # noqa: N802
    return [ctx.chat_state, ctx.chatbot, ctx.chat_note]


def opened(ctx, st, cur) -> dict:
    return {ctx.chat_state: {"sha256": st["rv"].result.sha256, "history": []}, ctx.chatbot: [], ctx.chat_note: ""}


def wire(ctx) -> None:
    gr = ctx.gr

    def on_ask(q, history, st, cst):
        q = (q or "").strip()
        if not st or not q:
            ctx.warn(NO_REPORT if not st else "请输入问题。")
            yield gr.skip()
            return
        rv = st["rv"]
        if not cst or cst.get("sha256") != rv.result.sha256:
            cst = {"sha256": rv.result.sha256, "history": []}
        session = ctx.a.chat(rv)
        session.history = list(cst["history"])
        history = list(history or []) + [{"role": "user", "content": esc(q)}, {"role": "assistant", "content": "……"}]
        yield history, "", "<div class='nb-note'>正在回答…</div>", cst
        text = ""
        try:
            for chunk in session.ask(q):
                text += chunk
                history[-1] = {"role": "assistant", "content": esc(text)}
                yield history, "", gr.skip(), gr.skip()
        except ReviewError as e:
            history[-1] = {"role": "assistant", "content": esc(f"（回答失败：{e.zh}）")}
            yield history, "", f"<div class='nb-note'>回答失败：{esc(e.zh)}，请稍后重试。</div>", cst
            return
        last = session.last
        if last is not None:
            history[-1] = {"role": "assistant",
                           "content": render.cite_links(render.marked(last.text, last.unsupported_numbers))}
        yield history, "", render.chat_note_html(last), {"sha256": rv.result.sha256, "history": session.history}

    for trigger in (ctx.ask.click, ctx.question.submit):
        trigger(on_ask, inputs=[ctx.question, ctx.chatbot, ctx.state, ctx.chat_state],
                outputs=[ctx.chatbot, ctx.question, ctx.chat_note, ctx.chat_state])
    ctx.chatbot.clear(lambda st: ("", {"sha256": st["rv"].result.sha256, "history": []} if st else None),
                      inputs=[ctx.state], outputs=[ctx.chat_note, ctx.chat_state])
    ctx.clear.click(lambda st: ([], "", {"sha256": st["rv"].result.sha256, "history": []} if st else None),
                    inputs=[ctx.state], outputs=[ctx.chatbot, ctx.chat_note, ctx.chat_state])
