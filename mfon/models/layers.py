"""Building blocks: sinusoidal positions, attention masks, the MulT-style cross-modal transformer, MLP heads.

Shapes use B = batch, T_q / T_k = query / key sequence lengths, d = model width. All sequences are
batch-first: (B, T, d).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


class SinusoidalPositions(nn.Module):
    """Fixed sine/cosine position codes (no parameters).

    Positions are counted from 1 (position 0 is reserved for padding in the fairseq/MulT convention).
    Channel k < d/2 holds sin(pos * w_k), channel d/2 + k holds cos(pos * w_k), with
    w_k = 10000^(-k / (d/2 - 1)); an odd width gets a trailing zero channel.
    """

    def __init__(self, d_model: int):
        super().__init__()
        self.d_model = d_model

    def forward(self, length: int, *, device=None, dtype=torch.float32) -> torch.Tensor:
        """Codes of positions 1..length: (length, d)."""
        half = self.d_model // 2
        step = math.log(10000.0) / max(half - 1, 1)
        freqs = torch.exp(torch.arange(half, device=device, dtype=torch.float32) * -step)
        pos = torch.arange(1, length + 1, device=device, dtype=torch.float32)
        angles = pos[:, None] * freqs[None, :]
        table = torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)
        if self.d_model % 2:
            table = torch.cat([table, table.new_zeros(length, 1)], dim=1)
        return table.to(dtype)


def key_padding_mask(lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    """(B, max_len) bool, True where a key is padding (position >= length) and must not be attended.

    A length of 0 is treated as 1 (the clip's first, zero, frame is attended) so that no attention row is
    empty: an empty row would turn the softmax into NaN.
    """
    lengths = lengths.to(torch.long).clamp(min=1)
    return torch.arange(max_len, device=lengths.device)[None, :] >= lengths[:, None]


def triangular_mask(query_len: int, key_len: int, device=None) -> torch.Tensor:
    """The authors' (MulT's) "future" mask: (T_q, T_k) bool, True where attention is blocked.

    Query position i may attend key j only if j <= i + |T_k - T_q|. With text as query (T_q small) and frames
    as keys (T_k large), the [CLS] position cannot see the trailing T_k - 1 - |T_k - T_q| frames.
    """
    offset = abs(key_len - query_len)
    i = torch.arange(query_len, device=device)[:, None]
    j = torch.arange(key_len, device=device)[None, :]
    return j > i + offset


class PackedFrames:
    """Where the real frames of a padded (B, T, ...) batch sit, to compute per-frame work on those rows only.

    In fixed fidelity padded keys are masked, so their key/value projections (2 T d^2 multiply-adds per clip and
    layer, most of an MPA stack's cost) change nothing; at a uniform spread of clip lengths half of them are
    padding. ``pad_mask``: (B, T) bool, True at padding (:func:`key_padding_mask`).
    """

    def __init__(self, pad_mask: torch.Tensor):
        self.pad_mask = pad_mask
        self.shape = tuple(pad_mask.shape)
        self.index = (~pad_mask).flatten().nonzero().squeeze(1)
        self._additive: dict[torch.dtype, torch.Tensor] = {}

    def additive_mask(self, dtype: torch.dtype) -> torch.Tensor:
        """(B, 1, 1, T): 0 at real frames, -inf at padding, as nn.MultiheadAttention builds it; made once per
        dtype for every layer of a stack."""
        if dtype not in self._additive:
            mask = torch.zeros(self.shape, dtype=dtype, device=self.pad_mask.device)
            self._additive[dtype] = mask.masked_fill(self.pad_mask, float("-inf"))[:, None, None, :]
        return self._additive[dtype]

    def pack(self, padded: torch.Tensor) -> torch.Tensor:
        """(B, T, d) -> (N, d): the real frames, clip after clip."""
        return padded.flatten(0, 1).index_select(0, self.index)

    def unpack(self, packed: torch.Tensor) -> torch.Tensor:
        """(N, d) -> (B, T, d) with zeros at padding (differentiable in ``packed``)."""
        rows = packed.new_zeros(self.shape[0] * self.shape[1], packed.shape[-1])
        return rows.index_copy(0, self.index, packed).view(*self.shape, packed.shape[-1])


class CrossModalLayer(nn.Module):
    """One pre-LayerNorm transformer layer whose queries come from one sequence and keys/values from another.

    x = x + Dropout_res(MHA(LN(x), LN(k), LN(v)))
    x = x + Dropout_res(W2 Dropout_relu(ReLU(W1 LN(x))))
    As in MulT, the same LayerNorm normalises the query, key and value streams. With ``kv=None`` it is a
    self-attention layer (q = k = v = x). The attention output projection and both feed-forward linears start
    xavier-uniform with zero biases (MulT's initialisation).
    """

    def __init__(self, d_model: int, n_heads: int, *, ffn_dim: int, attn_dropout: float,
                 relu_dropout: float, res_dropout: float):
        super().__init__()
        self.attn_norm = nn.LayerNorm(d_model)
        self.attn = nn.MultiheadAttention(d_model, n_heads, dropout=attn_dropout, batch_first=True)
        self.ffn_norm = nn.LayerNorm(d_model)
        self.ffn = nn.Sequential(
            nn.Linear(d_model, ffn_dim), nn.ReLU(), nn.Dropout(relu_dropout), nn.Linear(ffn_dim, d_model))
        self.res_dropout = nn.Dropout(res_dropout)
        for linear in (self.attn.out_proj, self.ffn[0], self.ffn[3]):
            nn.init.xavier_uniform_(linear.weight)
            nn.init.zeros_(linear.bias)

    def forward(self, x: torch.Tensor, kv: torch.Tensor | None = None, *,
                key_padding_mask: torch.Tensor | None = None,
                attn_mask: torch.Tensor | None = None, values: torch.Tensor | None = None,
                first_only: bool = False) -> torch.Tensor:
        """x: (B, T_q, d); kv: (B, T_k, d) or None; key_padding_mask: (B, T_k) bool (True = ignore);
        attn_mask: (T_q, T_k) bool (True = blocked); values: (B, T_k, d), a value stream apart from the key
        stream ``kv`` (MulT's separately dropped-out copies), None = ``kv``.
        first_only: compute query position 0 only (keys still span the whole sequence): (B, 1, d).
        Returns (B, T_q, d), or (B, 1, d) with ``first_only``."""
        if isinstance(kv, tuple):
            return self._forward_packed(x, *kv, first_only=first_only)
        normed = self.attn_norm(x)
        k = normed if kv is None else self.attn_norm(kv)
        v = k if values is None else self.attn_norm(values)
        q = normed
        if first_only:
            x, q = x[:, :1], normed[:, :1]
            attn_mask = None if attn_mask is None else attn_mask[:1]
        attended, _ = self.attn(q, k, v, key_padding_mask=key_padding_mask, attn_mask=attn_mask,
                                need_weights=False)
        x = x + self.res_dropout(attended)
        return x + self.res_dropout(self.ffn(self.ffn_norm(x)))

    def _forward_packed(self, x: torch.Tensor, kv: torch.Tensor, frames: PackedFrames, *,
                        first_only: bool) -> torch.Tensor:
        """The same layer with keys/values given as real frames only, ``kv``: (N, d) of ``frames``.

        The key/value projections run on the N real rows; the projected keys/values are laid back into the
        padded (B, T, d) shape (zeros at padding, which the mask excludes) for the attention itself, which is
        the call nn.MultiheadAttention makes (same mask, same dropout draw), so the result equals the padded
        computation within float rounding."""
        attn = self.attn
        d, heads = attn.embed_dim, attn.num_heads
        w_q, w_kv = attn.in_proj_weight.split([d, 2 * d])
        b_q, b_kv = attn.in_proj_bias.split([d, 2 * d])
        normed = self.attn_norm(x)
        if first_only:
            x, normed = x[:, :1], normed[:, :1]
        keys, values = frames.unpack(F.linear(self.attn_norm(kv), w_kv, b_kv)).chunk(2, dim=-1)
        batch, n_query, n_key = x.shape[0], x.shape[1], frames.shape[1]

        def split_heads(t: torch.Tensor, length: int) -> torch.Tensor:
            return t.reshape(batch, length, heads, d // heads).transpose(1, 2)

        queries = F.linear(normed, w_q, b_q)
        attended = F.scaled_dot_product_attention(
            split_heads(queries, n_query), split_heads(keys, n_key), split_heads(values, n_key),
            attn_mask=frames.additive_mask(queries.dtype), dropout_p=attn.dropout if self.training else 0.0)
        # laid out as nn.MultiheadAttention returns it (query-major memory), so that the dropout draws that
        # follow land on the same elements
        attended = attn.out_proj(attended.permute(2, 0, 1, 3).reshape(n_query * batch, d))
        attended = attended.view(n_query, batch, d).transpose(0, 1)
        x = x + self.res_dropout(attended)
        return x + self.res_dropout(self.ffn(self.ffn_norm(x)))


class CrossModalEncoder(nn.Module):
    """A MulT-style stack of :class:`CrossModalLayer` with a final LayerNorm.

    Inputs (query and key/value alike) are scaled by sqrt(d), given sinusoidal positions and embed-dropout;
    the key/value stream is the same (encoded once) for every layer, while the query stream is updated layer
    by layer. Call with ``kv=None`` for self-attention.

    ``paper_inputs`` reproduces two details of MulT's input handling (the authors' code): keys and values are
    two separately dropped-out copies of the key sequence, and a position whose first input channel is exactly
    0 gets no position code (MulT's position module takes it for padding).

    With ``key_lengths`` (fixed fidelity), a cross-modal stack computes its per-layer key/value work on the real
    frames only (:class:`PackedFrames`); ``pack_masked_keys = False`` computes it over the padding too (the
    earlier behaviour, kept for benchmarks).
    """

    pack_masked_keys = True

    def __init__(self, d_model: int, n_heads: int, n_layers: int, *, ffn_dim: int, attn_dropout: float,
                 relu_dropout: float, res_dropout: float, embed_dropout: float, paper_inputs: bool = False):
        super().__init__()
        self.d_model = d_model
        self.paper_inputs = paper_inputs
        self.scale = math.sqrt(d_model)
        self.positions = SinusoidalPositions(d_model)
        self.embed_dropout = nn.Dropout(embed_dropout)
        self.layers = nn.ModuleList(
            CrossModalLayer(d_model, n_heads, ffn_dim=ffn_dim, attn_dropout=attn_dropout,
                            relu_dropout=relu_dropout, res_dropout=res_dropout)
            for _ in range(n_layers))
        self.final_norm = nn.LayerNorm(d_model)

    def _positioned(self, seq: torch.Tensor) -> torch.Tensor:
        pos = self.positions(seq.shape[1], device=seq.device, dtype=seq.dtype)[None]
        if self.paper_inputs:
            pos = pos * (seq[:, :, :1] != 0).to(seq.dtype)
        return self.scale * seq + pos

    def _embed(self, seq: torch.Tensor) -> torch.Tensor:
        return self.embed_dropout(self._positioned(seq))

    def forward(self, query: torch.Tensor, kv: torch.Tensor | None = None, *,
                key_lengths: torch.Tensor | None = None, triangular: bool = False,
                first_only: bool = False) -> torch.Tensor:
        """query: (B, T_q, d); kv: (B, T_k, d) or None (self-attention, T_k = T_q).

        key_lengths: (B,) real lengths of the key sequence; keys at positions >= length are masked.
        None attends every key (the authors' behaviour). triangular: apply :func:`triangular_mask`.
        first_only: the last layer computes query position 0 only, for callers that pool it (the same
        values as the full computation at that position, within float rounding).
        Returns (B, T_q, d), or (B, 1, d) with ``first_only``.
        """
        if query.dim() != 3 or query.shape[-1] != self.d_model:
            raise ValueError(f"query must be (B, T_q, {self.d_model}), got {tuple(query.shape)}")
        if kv is not None and (kv.dim() != 3 or kv.shape[0] != query.shape[0] or kv.shape[-1] != self.d_model):
            raise ValueError(f"kv must be ({query.shape[0]}, T_k, {self.d_model}), got {tuple(kv.shape)}")
        key_len = query.shape[1] if kv is None else kv.shape[1]
        pad_mask = None if key_lengths is None else key_padding_mask(key_lengths, key_len)
        attn_mask = triangular_mask(query.shape[1], key_len, device=query.device) if triangular else None
        x = self._embed(query)
        kv_in = values_in = None
        if kv is not None:
            positioned = self._positioned(kv)
            kv_in = self.embed_dropout(positioned)
            if self.paper_inputs and self.training:  # a second dropout draw for the values
                values_in = self.embed_dropout(positioned)
            elif pad_mask is not None and self.pack_masked_keys:
                frames = PackedFrames(pad_mask)
                kv_in = (frames.pack(kv_in), frames)
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            x = layer(x, kv_in, key_padding_mask=pad_mask, attn_mask=attn_mask, values=values_in,
                      first_only=first_only and i == last)
        return self.final_norm(x)


class MLPHead(nn.Module):
    """in_dim -> hidden[0] -> ... -> hidden[-1] -> out_dim, GELU after each hidden Linear. (B, in) -> (B, out)."""

    def __init__(self, in_dim: int, hidden: list[int], out_dim: int = 1):
        super().__init__()
        layers: list[nn.Module] = []
        width = in_dim
        for h in hidden:
            layers += [nn.Linear(width, h), nn.GELU()]
            width = h
        layers.append(nn.Linear(width, out_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
