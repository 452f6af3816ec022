"""The page: a header (upload, sample reports, the reviewer, the report's meta) over one tab per module
(tab_review, tab_chat, tab_draft, tab_signoff, tab_batch), and `main` that launches it.

The tabs share one context (Ctx): the services, the components every tab may update (the open report's state,
the meta line) and the helpers every handler uses (guarded, reviewer_of, record, open_report). Each tab module
has layout(ctx) (its components, built inside its gr.Tab), wire(ctx) (its handlers) and, when the open report or
its decisions change, opened(ctx, st, cur) / refreshed(ctx, st, cur) giving its components' new values.
"""

import os

# Gradio looks up analytics hosts at import and launch unless told not to: set before gradio is imported.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

import argparse
import functools
import multiprocessing
import sys
import traceback
from pathlib import Path
from typing import Optional

from review.api import SUPPORTED
from review.models import ReviewError
from review.ui import render, service
from review.ui.render import CSS, NO_REPORT, esc
from review.ui.service import Refused, Services, users_at

NOTICE_TITLE = {"warning": "请注意", "info": "提示"}


class Ctx:
    """What the tabs share (see the module docstring). Components are set as attributes by the layouts."""

    def __init__(self, gr, services: Services):
        self.gr, self.services = gr, services
        self.a, self.db = services.assistant, services.db
        self.tab_modules: list = []

    # ------------------------------------------------------------------ notices and refusals

    def warn(self, message: str) -> None:
        self.gr.Warning(message, duration=20, title=NOTICE_TITLE["warning"])

    def info(self, message: str, title: str = NOTICE_TITLE["info"]) -> None:
        self.gr.Info(message, title=title)

    def guarded(self, fn):
        """Run a handler; when it is refused, say why and change nothing on the page."""
        @functools.wraps(fn)
        def run(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except Refused as e:
                self.warn(e.message)
                return self.gr.skip()
            except Exception:  # a defect: said in Chinese on the page, the traceback goes to the server's log
                traceback.print_exc()
                self.warn("操作未完成：程序内部出错（详细信息已写入服务器日志）。请重试；如仍出错，请联系管理员。")
                return self.gr.skip()
        return run

    @staticmethod
    def need_report(state) -> dict:
        if not state:
            raise Refused(NO_REPORT)
        return state

    def reviewer_of(self, name: str, request) -> str:
        """The logged-in user (still in the users file), or the name typed on the page when there are no users."""
        return service.reviewer(self.services, name, getattr(request, "username", None) if request else None)

    def record(self, **kw):
        return service.record(self.services, **kw)

    # ------------------------------------------------------------------ the open report

    def refreshed(self, st) -> dict:
        """What changes after a decision: every tab's view of the open report's decisions, and the meta line."""
        cur = self.db.current(st["rv"].result.sha256)
        out = {self.meta: render.meta_html(st["rv"].result, self.db.status(st["rv"].result.sha256), st["name"])}
        for m in self.tab_modules:
            if hasattr(m, "refreshed"):
                out.update(m.refreshed(self, st, cur))
        return out

    def opened(self, rv, name: str, data: Optional[bytes] = None) -> dict:
        st = service.open_report(self.services, rv, name, data)
        cur = self.db.current(rv.result.sha256)
        out = self.refreshed(st)
        out.update({self.upload: None, self.state: st,
                    self.versions: render.versions_html(service.earlier_versions(self.services, rv.result),
                                                        self.services)})
        for m in self.tab_modules:
            if hasattr(m, "opened"):
                out.update(m.opened(self, st, cur))
        return out

    def review_bytes(self, data: bytes, name: str, progress) -> dict:
        progress(0.05, desc="正在读取并审核年报（PDF 可能需要几十秒）…")
        rv = service.review(self.services, data, name)
        progress(0.9, desc="正在登记…")
        return self.opened(rv, name, data)


def _header(ctx: Ctx) -> None:
    gr, services = ctx.gr, ctx.services
    ctx.state = gr.State(None)  # {"rv": Reviewed, "name": str}
    gr.HTML("<h2 style='margin:4px 0'>政府信息公开工作年度报告审核</h2>")
    gr.HTML(render.status_html(services), elem_id="nb-status")
    with gr.Row(equal_height=False):
        ctx.upload = gr.File(label="上传年报（txt、md、html、htm、pdf、docx）", file_types=list(SUPPORTED),
                             type="filepath", elem_id="nb-upload", scale=3, height=120)
        with gr.Column(scale=2):
            ctx.fixture = gr.Dropdown(label="或打开示例年报（fixtures 文件夹）", elem_id="nb-fixture",
                                      choices=[p.name for p in services.fixtures], value=None,
                                      visible=bool(services.fixtures), interactive=True)
            if services.require_login:
                ctx.who = gr.HTML("", elem_id="nb-who")
                ctx.reviewer = gr.Textbox(visible=False)
            else:
                ctx.who = None
                ctx.reviewer = gr.Textbox(label="审核人（必填，保存决定时记录；本机浏览器会记住）",
                                          placeholder="请填写您的姓名", elem_id="nb-reviewer", max_lines=1)
    ctx.meta = gr.HTML(f"<p class='nb-muted'>{NO_REPORT}</p>", elem_id="nb-meta")
    ctx.versions = gr.HTML("", elem_id="nb-versions-box")  # earlier versions of the same report (agency and year)


def _wire_header(ctx: Ctx) -> None:
    gr, services = ctx.gr, ctx.services

    def on_upload(path, progress=gr.Progress()):
        if not path:
            return gr.skip()
        p = Path(path)
        try:
            return ctx.review_bytes(p.read_bytes(), p.name, progress)
        except OSError as e:
            ctx.warn(f"上传的文件无法读取（{service.os_reason(e)}）：请重新上传。")
        except Refused as e:
            ctx.warn(e.message)
        return {ctx.upload: None}  # the report shown before stays; the upload box is ready for another file

    @ctx.guarded
    def on_fixture(name, progress=gr.Progress()):
        if not name:
            return gr.skip()
        p = next((f for f in services.fixtures if f.name == name), None)
        if p is None:
            raise Refused(f"示例年报不存在：{name}")
        return ctx.review_bytes(p.read_bytes(), f"fixtures/{p.name}", progress)

    ctx.upload.upload(on_upload, inputs=[ctx.upload], outputs=ctx.opened_outputs, show_progress_on=[ctx.meta])
    ctx.fixture.input(on_fixture, inputs=[ctx.fixture], outputs=ctx.opened_outputs, show_progress_on=[ctx.meta])

    if ctx.who is not None:
        def on_load(request: gr.Request):
            user = getattr(request, "username", None) or ""
            return (f"<div class='nb-meta'>审核人：<b>{esc(services.reviewer_label(user))}</b>"
                    f"　<a href='./logout'>退出登录</a></div>")
        ctx.demo.load(on_load, inputs=None, outputs=[ctx.who])
    else:  # no users: the name typed is remembered by this browser (localStorage), never by the server
        remembered = gr.BrowserState("", storage_key="nb-reviewer-name")
        ctx.demo.load(lambda saved: saved or gr.skip(), inputs=[remembered], outputs=[ctx.reviewer])
        ctx.reviewer.change(lambda name: (name or "").strip(), inputs=[ctx.reviewer], outputs=[remembered])


def build_app(services: Services):
    """The Gradio Blocks of the review page (not launched)."""
    import gradio as gr

    from review.ui import loop, tab_batch, tab_chat, tab_draft, tab_history, tab_review, tab_signoff

    ctx = Ctx(gr, services)
    ctx.tab_modules = [tab_review, tab_chat, tab_draft, tab_signoff, tab_batch, tab_history, loop]  # loop: over review+batch
    with gr.Blocks(title="年报审核") as demo:
        ctx.demo = demo
        _header(ctx)
        with gr.Tabs(elem_id="nb-tabs") as ctx.tabs:
            with gr.Tab("单篇审核", id="review", elem_id="nb-tab-review"):
                tab_review.layout(ctx)  # with the review loop's bar (loop.layout)
            with gr.Tab("对话", id="chat", elem_id="nb-tab-chat"):
                tab_chat.layout(ctx)
            with gr.Tab("第五部分草稿", id="draft", elem_id="nb-tab-draft"):
                tab_draft.layout(ctx)
            with gr.Tab("审核结论与记录", id="signoff", elem_id="nb-tab-signoff"):
                tab_signoff.layout(ctx)
            with gr.Tab("批量审核", id="batch", elem_id="nb-tab-batch") as ctx.batch_tab:
                tab_batch.layout(ctx)
            with gr.Tab("历史年报", id="history", elem_id="nb-tab-history"):
                tab_history.layout(ctx)
        # what every tab shows of the open report: the outputs of opening one and of a decision
        ctx.refresh_outputs = [ctx.meta] + [c for m in ctx.tab_modules for c in getattr(m, "REFRESHES", lambda c: [])(ctx)]
        ctx.opened_outputs = list(dict.fromkeys(
            [ctx.upload, ctx.state, ctx.versions, *ctx.refresh_outputs]
            + [c for m in ctx.tab_modules for c in getattr(m, "OPENS", lambda c: [])(ctx)]))
        _wire_header(ctx)
        for m in ctx.tab_modules:
            m.wire(ctx)
    return demo


# ------------------------------------------------------------------------------------------- main

def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="review ui", description="启动年报审核界面（浏览器访问）")
    p.add_argument("--host", default="127.0.0.1", help="监听地址（默认 127.0.0.1，仅本机；对外服务须先配置用户）")
    p.add_argument("--port", type=int, default=7860, help="端口（默认 7860）")
    p.add_argument("--users", metavar="FILE", help="用户文件（默认 $REVIEW_USERS_FILE 或数据目录下的 users.json）；"
                                                   "有用户时须登录")
    p.add_argument("--db", metavar="URL", help="审核记录数据库（默认 $REVIEW_DB_URL 或数据目录下的 signoff.sqlite），"
                                               "如 postgresql+psycopg://user:pass@host/db")
    p.add_argument("--data", metavar="DIR", help="数据目录：历史库、审核记录、缓存（默认 $REVIEW_DATA_DIR 或 "
                                                 "~/.local/share/nianbao-review）")
    p.add_argument("--history", metavar="DIR", action="append", default=[],
                   help="往年年报文件夹（可重复；代替历史库用于跨年度检查）")
    p.add_argument("--batch-root", metavar="DIR", action="append", default=[],
                   help="批量审核时允许审核人填写的服务器文件夹（可重复；数据目录和示例年报文件夹总是允许）")
    p.add_argument("--max-upload-mb", type=float, default=100, metavar="MB",
                   help="单个上传文件的大小上限（MB，默认 100）")
    return p


def main(argv: Optional[list[str]] = None) -> int:
    """`python ui.py` / `review ui`: start the app; exit status 2 when it must not or cannot start."""
    args = _parser().parse_args(argv)
    try:
        from review.users import check_bind
        users = users_at(args.data, args.users)
        check_bind(args.host, users)  # before anything is opened or created
        services = Services.create(args.data, args.db, history_dirs=args.history, users=users,
                                   batch_roots=args.batch_root)
    except ReviewError as e:
        print(f"无法启动审核界面：{e.message}", file=sys.stderr)
        sys.exit(2)
    try:  # batch runs start worker processes from this threaded server: never fork its threads
        multiprocessing.set_start_method("forkserver")
    except (RuntimeError, ValueError):
        pass
    demo = build_app(services)
    demo.queue(default_concurrency_limit=4)
    from review.ui import security
    auth = security.LoginGuard(services.users, services.data_dir).check if services.require_login else None
    try:
        demo.launch(server_name=args.host, server_port=args.port, auth=auth,
                    auth_message="请使用审核系统账号登录（账号由管理员用 review users add 添加）",
                    css=CSS, head=render.HEAD, footer_links=[], ssr_mode=False, show_error=False, quiet=True,
                    max_file_size=max(1, int(args.max_upload_mb * 1024 * 1024)), pwa=False, mcp_server=False, inbrowser=False, prevent_thread_lock=True,
                    share=False)  # never a public tunnel, whatever GRADIO_SHARE says
    except OSError as e:
        print(f"无法启动审核界面：端口 {args.port} 不可用（{service.os_reason(e)}）。请用 --port 换一个端口。",
              file=sys.stderr)
        sys.exit(2)
    security.harden(demo, services)
    host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    print(f"年报审核界面已启动：http://{host}:{args.port}　{services.assistant.status()}"
          f"　审核记录库：{services.db_label()}　（按 Ctrl+C 停止）", flush=True)
    demo.block_thread()
    return 0

