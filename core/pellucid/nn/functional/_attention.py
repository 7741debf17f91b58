"""Scaled dot-product and multi-head attention (composed of matmul/softmax ops, so every step
shows up in the graph and gradients come from the parts)."""
import math

__all__ = ["scaled_dot_product_attention", "multi_head_attention_forward"]


def _pl():
    import pellucid
    return pellucid


def _merge_mask(attn_mask, L, S, dtype, is_causal, device):
    """Turn boolean / float masks into one additive float mask (or None)."""
    pl = _pl()
    mask = None
    if is_causal:
        causal = pl.ones(L, S, dtype=pl.bool, device=device).tril()
        mask = pl.zeros(L, S, dtype=dtype, device=device).masked_fill(causal.logical_not(), float("-inf"))
    if attn_mask is not None:
        if attn_mask.dtype == pl.bool:
            m = pl.zeros(attn_mask.shape, dtype=dtype, device=device).masked_fill(attn_mask.logical_not(), float("-inf"))
        else:
            m = attn_mask.to(dtype)
        mask = m if mask is None else mask + m
    return mask


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                                 enable_gqa=False):
    """softmax(Q K^T * scale + mask) V, with PyTorch's mask conventions (bool True = attend)."""
    from ._dropout import dropout
    pl = _pl()
    if query.shape[-1] != key.shape[-1]:
        raise RuntimeError(
            f"scaled_dot_product_attention: query and key must have the same embedding size, got query "
            f"{list(query.shape)} and key {list(key.shape)}")
    if key.shape[-2] != value.shape[-2]:
        raise RuntimeError(
            f"scaled_dot_product_attention: key and value must have the same sequence length, got key "
            f"{list(key.shape)} and value {list(value.shape)}")
    if is_causal and attn_mask is not None:
        raise RuntimeError("scaled_dot_product_attention: explicit attn_mask should not be set when is_causal=True")
    if enable_gqa and query.dim() >= 3 and query.shape[-3] != key.shape[-3]:
        rep = query.shape[-3] // key.shape[-3]
        key = key.repeat_interleave(rep, dim=-3)
        value = value.repeat_interleave(rep, dim=-3)
    L, S = query.shape[-2], key.shape[-2]
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = pl.matmul(query, key.transpose(-2, -1)) * scale
    mask = _merge_mask(attn_mask, L, S, scores.dtype, is_causal, query.device)
    if mask is not None:
        scores = scores + mask
    attn = pl.softmax(scores, dim=-1)
    if dropout_p > 0.0:
        attn = dropout(attn, dropout_p, training=True)
    return pl.matmul(attn, value)


def multi_head_attention_forward(query, key, value, num_heads, in_proj_weight, in_proj_bias, out_proj_weight,
                                 out_proj_bias, bias_k=None, bias_v=None, add_zero_attn=False, dropout_p=0.0,
                                 training=True, key_padding_mask=None, need_weights=True, attn_mask=None,
                                 q_proj_weight=None, k_proj_weight=None, v_proj_weight=None,
                                 average_attn_weights=True, is_causal=False):
    """PyTorch's F.multi_head_attention_forward on (L, N, E) inputs (or unbatched (L, E))."""
    from ._linear import linear
    from ._dropout import dropout
    pl = _pl()
    unbatched = query.dim() == 2
    if unbatched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    L, N, E = query.shape
    S = key.shape[0]
    if E % num_heads:
        raise RuntimeError(f"multi_head_attention: embed_dim {E} not divisible by num_heads {num_heads}")
    hd = E // num_heads
    if q_proj_weight is None:
        b = [None] * 3 if in_proj_bias is None else in_proj_bias.chunk(3)
        if query is key and key is value:
            q, k, v = linear(query, in_proj_weight, in_proj_bias).chunk(3, dim=-1)
        else:
            w = in_proj_weight.chunk(3)
            q, k, v = linear(query, w[0], b[0]), linear(key, w[1], b[1]), linear(value, w[2], b[2])
    else:
        b = [None] * 3 if in_proj_bias is None else in_proj_bias.chunk(3)
        q, k, v = linear(query, q_proj_weight, b[0]), linear(key, k_proj_weight, b[1]), linear(value, v_proj_weight, b[2])
    if attn_mask is not None and attn_mask.dim() == 2:
        attn_mask = attn_mask.unsqueeze(0)
    if bias_k is not None:
        k = pl.cat([k, bias_k.repeat(1, N, 1)])
        v = pl.cat([v, bias_v.repeat(1, N, 1)])
        if attn_mask is not None:
            attn_mask = pl.nn.functional.pad(attn_mask, (0, 1))
        if key_padding_mask is not None:
            key_padding_mask = pl.nn.functional.pad(key_padding_mask, (0, 1))
    # (L, N, E) -> (N, heads, L, hd)
    q = q.reshape(L, N * num_heads, hd).transpose(0, 1)
    k = k.reshape(k.shape[0], N * num_heads, hd).transpose(0, 1)
    v = v.reshape(v.shape[0], N * num_heads, hd).transpose(0, 1)
    if add_zero_attn:
        z = pl.zeros((N * num_heads, 1, hd), dtype=q.dtype, device=q.device)
        k = pl.cat([k, z], dim=1)
        v = pl.cat([v, z], dim=1)
        if attn_mask is not None:
            attn_mask = pl.nn.functional.pad(attn_mask, (0, 1))
        if key_padding_mask is not None:
            key_padding_mask = pl.nn.functional.pad(key_padding_mask, (0, 1))
    S = k.shape[1]
    if attn_mask is not None and attn_mask.dtype == pl.bool:
        # in multi-head attention a True entry means "may NOT attend" (the opposite of SDPA)
        attn_mask = pl.zeros(attn_mask.shape, dtype=q.dtype, device=q.device).masked_fill(attn_mask, float("-inf"))
    mask = _merge_mask(attn_mask, L, S, q.dtype, is_causal and attn_mask is None, q.device)
    if key_padding_mask is not None:
        if key_padding_mask.dtype == pl.bool:
            kpm = pl.zeros(key_padding_mask.shape, dtype=q.dtype, device=q.device).masked_fill(key_padding_mask, float("-inf"))
        else:
            kpm = key_padding_mask.to(q.dtype)
        kpm = kpm.reshape(N, 1, 1, S).expand(N, num_heads, 1, S).reshape(N * num_heads, 1, S)
        mask = kpm if mask is None else mask + kpm
    scores = pl.bmm(q * (1.0 / math.sqrt(hd)), k.transpose(1, 2))
    if mask is not None:
        scores = scores + mask
    attn = pl.softmax(scores, dim=-1)
    if dropout_p > 0.0 and training:
        attn = dropout(attn, dropout_p, training=True)
    out = pl.bmm(attn, v)                                   # (N*heads, L, hd)
    out = out.transpose(0, 1).reshape(L * N, E)
    out = linear(out, out_proj_weight, out_proj_bias).reshape(L, N, E)
    weights = None
    if need_weights:
        weights = attn.reshape(N, num_heads, L, S)
        if average_attn_weights:
            weights = weights.mean(dim=1)
    if unbatched:
        out = out.squeeze(1)
        if weights is not None:
            weights = weights.squeeze(0)
    return out, weights
