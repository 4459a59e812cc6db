"""int8 weights for CPU inference: a quarter of fp32's bytes read per token.

At batch 1 a CPU reads every weight once per token, so the bytes of the weights set the
pace. ``quantize_int8(model)`` replaces every linear layer (``nn.Linear``, and GPT-2's
``Conv1D``) with an ``Int8Linear``: the weight rounded to int8 with one scale per output
row (symmetric, ``scale = max|row| / 127``), multiplied by torch's own CPU kernel for
int8 weights (``torch.ops.aten._weight_int8pack_mm``, which ``torch.compile`` lowers an
int8 weight-only product to on the CPU). The rest of the model (norms, embeddings,
attention) runs in bfloat16, the activation type the kernel is fastest with; the logits
come back in float32. A Llama-family RMSNorm becomes one fused ``rms_norm`` call (in
bfloat16 transformers' own takes eight small ops: 5-9% of a token's time here), and a
Llama-family MLP a ``StackedMLP`` that calls its gate-and-up stack directly.

Layers that read the same input, a Llama block's ``q_proj``/``k_proj``/``v_proj`` and
``gate_proj``/``up_proj``, share one stacked matrix: the first of them to be called
multiplies the input once for all, and the others take their slice of that product
when they are called with the same tensor (another input, or a layer's second call, is
multiplied afresh, so the answer never depends on the call order). One call instead of
three saves each call's fixed cost, about a tenth of a token's time here
(docs/BENCHMARKS.md, "int8 weights"). With int8 a batched row's answer can differ from
the row's answer alone: bfloat16 attention rounds with the batch's shape.

The kernel is a loop over rows, right for decoding steps; a product of 32 rows or more
(a prompt's prefill) dequantizes the weight and multiplies in bfloat16 instead.

A layer whose input width is not a multiple of 32 (the kernel's block; SmolLM2's and
GPT-2's all are) stays as it was, in bfloat16. The conversion is for decoding only: the
model cannot be trained afterwards, and it runs on the CPU (the kernel has no CUDA version).
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from recipe_schema import UsageError
from recipe_schema.limits import WEIGHTS

# CPUs where torch's int8 kernel is vectorized (x86-64). It was measured faster than fp32 on
# AVX512 (docs/BENCHMARKS.md); AVX2 has the same vectorized kernel, assumed to pay too.
FAST_INT8 = ("AVX2", "AVX512")
# Norms whose forward is ``weight * x / rms(x)`` (transformers' Llama family): one fused op instead.
RMS_NORMS = ("LlamaRMSNorm", "MistralRMSNorm", "Qwen2RMSNorm")
# MLPs whose forward is ``down_proj(act_fn(gate_proj(x)) * up_proj(x))``: one call of their stack.
MLPS = ("LlamaMLP", "MistralMLP", "Qwen2MLP")
# Layers of one block that read the same input: stacked into one matrix.
SIBLINGS = (("q_proj", "k_proj", "v_proj"), ("gate_proj", "up_proj"))
ACTIVATION_DTYPE = torch.bfloat16
# The kernel reads each row in blocks and does not check that its input width divides them:
# a width that does not gives wrong numbers or a segmentation fault (16 divides every safe
# width found; 32 to be sure). It checks every other shape itself.
ROW_BLOCK = 32
# From this many rows on (a prompt's prefill; not a decoding step, even at batch 16) a product
# dequantizes the weight and multiplies in bfloat16: the kernel loops over rows, so at 64
# rows it takes 2.7x as long, at 300 rows 8x (docs/BENCHMARKS.md, "int8 weights").
WIDE_ROWS = 32


_KERNEL: Any = None


def _kernel() -> Any:
    global _KERNEL
    if _KERNEL is None:
        _KERNEL = getattr(torch.ops.aten, "_weight_int8pack_mm", None)
        if _KERNEL is None:  # pragma: no cover - torch 2.13 has it; a later one might not
            raise UsageError(f"int8 weights need torch's _weight_int8pack_mm, which torch "
                             f"{torch.__version__} lacks")
    return _KERNEL


def round_to_int8(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(int8 weight, float32 scale per row)`` of an ``(out, in)`` weight.

    ``weight ~ q * scale[:, None]``, each within half a step of its row's scale.
    """
    w = weight.detach().to(torch.float32)
    scale = w.abs().amax(dim=1).clamp(min=torch.finfo(torch.float32).tiny) / 127.0
    return torch.round(w / scale[:, None]).clamp(-127, 127).to(torch.int8), scale


class _Last:
    """The stack's memo: ``None``, or ``(input, its version, parts, which layers took theirs)``,
    replaced whole and read once, so threads sharing the model never read another's parts."""

    __slots__ = ("memo",)

    def __init__(self) -> None:
        self.memo: tuple[torch.Tensor, int, tuple[torch.Tensor, ...], int] | None = None


class _Stacked(nn.Module):
    """One int8 matrix for layers that read the same input, and the last product it made."""

    def __init__(self, weights: list[torch.Tensor], biases: list[torch.Tensor | None]) -> None:
        super().__init__()
        q, scale = round_to_int8(torch.cat(weights))
        self.register_buffer("weight_int8", q)
        self.register_buffer("scale", scale.to(ACTIVATION_DTYPE))
        if any(b is not None for b in biases):
            full = [b.detach() if b is not None else w.new_zeros(w.shape[0])
                    for w, b in zip(weights, biases, strict=True)]
            self.register_buffer("bias", torch.cat(full).to(ACTIVATION_DTYPE))
        self.sizes = [w.shape[0] for w in weights]
        # A plain object, and buffers read from _buffers: nn.Module's own attribute access
        # costs microseconds, and these run 200 times a token.
        self.last = _Last()

    def product(self, x: torch.Tensor) -> torch.Tensor:
        """``x @ W.T (+ bias)`` for the whole stack, in ``x``'s shape but the last dimension."""
        buffers: dict[str, Any] = self._buffers
        scale, bias = buffers["scale"], buffers.get("bias")
        flat = x.reshape(-1, x.shape[-1]).contiguous()  # the kernel reads rows as they lie in memory
        if flat.dtype != scale.dtype:
            flat = flat.to(scale.dtype)
        if flat.shape[0] < WIDE_ROWS:  # decoding: the kernel reads int8, a quarter of the bytes
            y = (_KERNEL or _kernel())(flat, buffers["weight_int8"], scale)
        else:  # a prompt's rows: one bfloat16 matrix product beats the kernel's row-by-row loop
            y = F.linear(flat, buffers["weight_int8"].to(scale.dtype) * scale[:, None])
        if bias is not None:
            y = y + bias
        return y.view(*x.shape[:-1], y.shape[-1])

    def part(self, x: torch.Tensor, index: int) -> torch.Tensor:
        """Layer ``index``'s output for ``x``: a slice of one product shared by the stack."""
        sizes, last = self.sizes, self.last
        if len(sizes) == 1:
            return self.product(x)
        bit, memo = 1 << index, last.memo
        if memo is None or memo[0] is not x or memo[1] != x._version or memo[3] & bit:
            parts, taken = tuple(self.product(x).split(sizes, dim=-1)), 0  # new input, or a 2nd call
        else:
            parts, taken = memo[2], memo[3]
        taken |= bit
        # every layer took its part: hold no tensors between passes
        last.memo = None if taken == (1 << len(sizes)) - 1 else (x, x._version, parts, taken)
        return parts[index]


class Int8Linear(nn.Module):
    """A linear layer with int8 weights; its ``stack`` may be shared with sibling layers."""

    def __init__(self, stack: _Stacked, index: int = 0, float_output: bool = False) -> None:
        super().__init__()
        self.stack = stack
        self._part = stack.part  # the bound method, read without nn.Module's __getattr__
        self.index = index
        self.float_output = float_output  # the logits: sampling reads them in float32
        self.in_features = int(stack.get_buffer("weight_int8").shape[1])
        self.out_features = stack.sizes[index]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.float_output:
            return self._part(x, self.index).float()
        return self._part(x, self.index)

    def extra_repr(self) -> str:
        stacked = len(self.stack.sizes)
        return f"in_features={self.in_features}, out_features={self.out_features}, stacked={stacked}"


def resolve_weights(weights: str, device: str | None = None) -> str:
    """``"auto"`` -> ``"int8"`` for CPU decoding where torch's int8 kernel is vectorized
    (``torch.backends.cpu.get_cpu_capability()`` is AVX2 or AVX512), else ``"fp32"``;
    ``"fp32"`` and ``"int8"`` as they are.

    Raises
    ------
    UsageError
        For any other name, and for int8 on a device that is not the CPU.
    """
    if weights not in WEIGHTS:
        raise UsageError(f"weights must be one of {', '.join(WEIGHTS)}, not {weights!r}")
    try:
        on_cpu = device is None or torch.device(device).type == "cpu"
    except (RuntimeError, TypeError):
        raise UsageError(f"not a device: {device!r}") from None
    if weights == "auto":
        return "int8" if on_cpu and torch.backends.cpu.get_cpu_capability() in FAST_INT8 else "fp32"
    if weights == "int8" and not on_cpu:
        raise UsageError(f"int8 weights are for CPU inference, not {device}")
    return weights


class StackedMLP(nn.Module):
    """A Llama-family MLP whose gate and up layers share a stack: one product, split, without
    the memo, the two layer calls and transformers' hub-kernel wrapper (4% of a token here).
    The same operations as the MLP it replaces, so the same numbers."""

    def __init__(self, mlp: nn.Module) -> None:
        super().__init__()
        gate: Int8Linear = getattr(mlp, "gate_proj")  # noqa: B009 (nn.Module's typed __getattr__)
        self.gate_proj, self.up_proj = gate, getattr(mlp, "up_proj")  # noqa: B009
        down: nn.Module = getattr(mlp, "down_proj")  # noqa: B009
        act: nn.Module = getattr(mlp, "act_fn")  # noqa: B009
        self.down_proj, self.act_fn = down, act
        # plain attributes (not registered twice), read without nn.Module's __getattr__
        self.__dict__.update(_product=gate.stack.product, _sizes=gate.stack.sizes, _down=down, _act=act)
        self._product: Any
        self._down: Any
        self._act: Any

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self._product(x).split(self._sizes, dim=-1)
        return self._down(self._act(gate) * up)


def _stacked_mlp(module: nn.Module) -> bool:
    """Whether ``module`` is a Llama-family MLP whose gate and up layers share one stack."""
    gate, up = getattr(module, "gate_proj", None), getattr(module, "up_proj", None)
    return (type(module).__name__ in MLPS and hasattr(module, "act_fn") and hasattr(module, "down_proj")
            and isinstance(gate, Int8Linear) and isinstance(up, Int8Linear) and gate.stack is up.stack
            and (gate.index, up.index) == (0, 1) and len(gate.stack.sizes) == 2)


class FusedRMSNorm(nn.Module):
    """A Llama-family RMSNorm as one ``torch.nn.functional.rms_norm`` call (it normalizes in
    float32 inside), where transformers' spends eight small ops on a bfloat16 input."""

    def __init__(self, norm: nn.Module) -> None:
        super().__init__()
        weight: nn.Parameter = getattr(norm, "weight")  # noqa: B009 (nn.Module's typed __getattr__)
        self.weight = weight
        self.eps = float(getattr(norm, "variance_epsilon"))  # noqa: B009
        self.shape = (int(weight.shape[0]),)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.rms_norm(x, self.shape, self._parameters["weight"], self.eps)


Weight = tuple[torch.Tensor, "torch.Tensor | None"]


def _weight_of(layer: nn.Module | None) -> Weight | None:
    """``(weight (out, in), bias)`` of a linear layer, None for anything else."""
    if isinstance(layer, nn.Linear):
        return layer.weight, layer.bias
    if type(layer).__name__ == "Conv1D" and hasattr(layer, "nf"):  # GPT-2's: weight is (in, out)
        weight, bias = getattr(layer, "weight"), getattr(layer, "bias")  # noqa: B009 (typed Any)
        return weight.t(), bias
    return None


def _in_width(layer: nn.Module) -> int:
    weight = _weight_of(layer)
    return int(weight[0].shape[1]) if weight is not None else 0


class _FloatOutput(nn.Module):
    """An output layer left in bfloat16, its logits cast to float32 as sampling reads them."""

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x).float()


def _groups(children: dict[str, nn.Module]) -> list[tuple[str, ...]]:
    """The layers to convert among one module's children, siblings stacked: names, in order."""
    groups: list[tuple[str, ...]] = []
    for names in SIBLINGS:
        weights = [_weight_of(children.get(n)) for n in names]
        if all(w is not None for w in weights) and len({w[0].shape[1] for w in weights if w}) == 1:
            groups.append(names)
    taken = {n for names in groups for n in names}
    groups += [(name,) for name, child in children.items() if name not in taken and _weight_of(child)]
    return groups


def quantize_int8(model: nn.Module) -> nn.Module:
    """Give ``model`` int8 weights for CPU decoding, in place (see the module docstring).

    Every linear layer becomes an ``Int8Linear``; the output embedding's product comes
    back in float32, everything else runs in bfloat16. Returns ``model``.

    A model converted already is returned as it is. Afterwards the model runs on the CPU
    only, in bfloat16 (moving it to a GPU or to float64 fails at its next forward pass),
    and from one thread at a time or several (a stack's shared product is never another
    thread's).

    Raises
    ------
    UsageError
        When the model is not on the CPU, or has no linear layer to convert; the model is
        then left as it was.
    """
    if getattr(model, "souschef_weights", None) == "int8":
        return model  # converted already
    if any(p.device.type != "cpu" for p in model.parameters()):
        raise UsageError("int8 weights are for CPU inference: load the model on the CPU")
    _kernel()
    output_of = getattr(model, "get_output_embeddings", None)
    output = output_of() if callable(output_of) else None
    parameters = sum(p.numel() for p in model.parameters())  # tied weights once
    plan = []  # (parent, its children, names stacked), decided before anything changes
    for parent in list(model.modules()):
        children = dict(parent.named_children())
        plan += [(parent, children, names) for names in _groups(children)
                 if _in_width(children[names[0]]) % ROW_BLOCK == 0]  # else: a plain layer, in bfloat16
    if not plan:
        raise UsageError(f"{type(model).__name__} has no linear layers int8 weights fit")
    for parent, children, names in plan:
        pairs = [w for w in (_weight_of(children[n]) for n in names) if w is not None]
        stack = _Stacked([w for w, _ in pairs], [b for _, b in pairs])
        for index, name in enumerate(names):
            setattr(parent, name, Int8Linear(stack, index, float_output=children[name] is output))
    for parent in list(model.modules()):
        for name, child in dict(parent.named_children()).items():
            if type(child).__name__ in RMS_NORMS and hasattr(child, "variance_epsilon"):
                setattr(parent, name, FusedRMSNorm(child))
            elif _stacked_mlp(child):
                setattr(parent, name, StackedMLP(child))
            elif child is output and not isinstance(child, Int8Linear):  # a width the kernel cannot take
                setattr(parent, name, _FloatOutput(child))
    for param in model.parameters():  # not model.to(): buffers such as RoPE's frequencies stay float32
        param.data = param.data.to(ACTIVATION_DTYPE)
    model.eval()
    model.requires_grad_(False)
    setattr(model, "souschef_weights", "int8")  # noqa: B010 (nn.Module's typed __setattr__)
    setattr(model, "souschef_parameters", parameters)  # noqa: B010
    return model


def weights_of(model: nn.Module) -> str:
    """``"int8"`` for a model ``quantize_int8`` converted, else its parameters' dtype (``"fp32"``)."""
    if getattr(model, "souschef_weights", None) == "int8":
        return "int8"
    dtype = next(model.parameters()).dtype
    return {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16",
            torch.float64: "fp64"}.get(dtype, str(dtype))


def weight_count(model: nn.Module) -> int:
    """The model's parameters; for one with int8 weights (buffers), the count before it was converted."""
    return int(getattr(model, "souschef_parameters", 0)) or sum(p.numel() for p in model.parameters())


__all__ = ["WEIGHTS", "Int8Linear", "quantize_int8", "resolve_weights", "round_to_int8", "weight_count",
           "weights_of"]
