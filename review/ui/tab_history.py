"""The 历史年报 tab: earlier reports (files, zip archives, or a server folder under an allowed root) imported
into the prior-report store (review.store), with progress; the cross-year checks of the single view and of
batches then find the agency's earlier years there."""
import shutil
from datetime import datetime

from review.models import ReviewError
from review.ui import service
from review.ui.render import esc
from review.ui.service import BATCH_SUFFIXES, Refused

_STATUS = {"added": "已加入", "replaced": "已替换旧版本", "unchanged": "已在库中", "error": "无法读取"}


def layout(ctx) -> None:
    gr = ctx.gr
    gr.HTML("<p class='nb-muted'>导入往年的年报（同一机关的往年年报用于核对“上年结转”“现行有效件数”和第五部分是否照抄往年）。"
            "导入后，单篇审核和批量审核的跨年度检查都会用到。</p>")
    with gr.Row(equal_height=False):
        ctx.h_files = gr.File(label="上传往年年报或 zip 压缩包", file_count="multiple", file_types=list(BATCH_SUFFIXES),
                              type="filepath", elem_id="nb-h-files", scale=3, height=140)
        with gr.Column(scale=2):
            ctx.h_folder = gr.Textbox(label="或填写服务器上的文件夹（完整路径）", max_lines=1, elem_id="nb-h-folder")
            ctx.h_run = gr.Button("导入历史库", variant="primary", elem_id="nb-h-run")
    ctx.h_result = gr.HTML(store_html(ctx.services), elem_id="nb-h-result")


def store_html(services, outcomes=None) -> str:
    store = getattr(services.assistant, "store", None)
    n = len(store) if store is not None else 0
    head = f"<div class='nb-meta' id='nb-h-count'>历史库：{esc(services.data_dir)}，共 {n} 篇。</div>"
    if not outcomes:
        return head
    rows = "".join(f"<tr><td>{esc(service.short_source(o.source))}</td><td>{esc(o.agency or '')}</td>"
                   f"<td>{esc(o.year or '')}</td><td>{esc(_STATUS.get(o.status, o.status))}</td>"
                   f"<td>{esc(o.message or '')}</td></tr>" for o in outcomes)
    return (head + "<table class='nb-log' id='nb-h-done'><tr><th>文件</th><th>机关</th><th>年度</th><th>结果</th>"
            f"<th>说明</th></tr>{rows}</table>")


def wire(ctx) -> None:
    gr = ctx.gr
    guard = service.RunGuard("正在导入历史年报：请等待完成，不要重复点击。")

    @ctx.guarded
    def on_import(files, folder_text, progress=gr.Progress()):
        with guard:
            folder = service.batch_folder_input(folder_text, ctx.services.allowed_roots())
            if not files and folder is None:
                raise Refused("请先上传往年年报或 zip 压缩包，或填写服务器上的文件夹路径。")
            from review import batch
            from review.api import expand
            work = ctx.services.data_dir / "history-imports" / datetime.now().strftime("%Y%m%d-%H%M%S-%f")
            try:
                staged = service.stage_uploads(files, work / "uploads")
                paths = []
                for p in staged + ([folder] if folder else []):
                    items = batch.collect([p], work)  # zip members checked and extracted safely
                    paths += [str(it.path) for it in items]
            except (batch.BatchInputError, Refused) as e:
                shutil.rmtree(work, ignore_errors=True)
                raise Refused(e.zh if isinstance(e, ReviewError) else e.message) from None
            except OSError as e:
                shutil.rmtree(work, ignore_errors=True)
                raise Refused(f"导入未完成：文件无法读取（{service.os_reason(e)}）。") from None
            paths = list(expand(paths))
            if not paths:
                raise Refused("没有找到可导入的年报（txt、md、html、htm、pdf、docx）。")
            outcomes = service.import_history(ctx.services, paths, lambda done, total: progress(
                (done, total), desc=f"正在导入历史库：{done} / {total} 篇", unit="篇"))
            added = sum(o.status in ("added", "replaced") for o in outcomes)
            ctx.info(f"已导入历史库：{added} 篇（共 {len(outcomes)} 个文件）。", title="完成")
            return {ctx.h_result: store_html(ctx.services, outcomes), ctx.h_files: None}

    ctx.h_run.click(on_import, inputs=[ctx.h_files, ctx.h_folder], outputs=[ctx.h_result, ctx.h_files],
                    show_progress_on=[ctx.h_result], trigger_mode="once")
