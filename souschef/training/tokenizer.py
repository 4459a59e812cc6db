"""A byte-level BPE tokenizer trained on the training texts, for models built from scratch.

Byte-level like GPT-2's, so that any text can be encoded (256 byte symbols are in
the alphabet whatever the data) and constrained decoding can map every token to its
bytes. Two special tokens: ``<|endoftext|>`` ends an answer (EOS, as in GPT-2) and
``<|pad|>`` pads; they differ so that padding can be masked out of the loss without
masking the EOS the model must learn to write.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

EOS = "<|endoftext|>"
PAD = "<|pad|>"


def train_tokenizer(texts: Iterable[str], vocab_size: int) -> Any:
    """Train a byte-level BPE tokenizer and wrap it as a ``PreTrainedTokenizerFast``.

    Parameters
    ----------
    texts
        The training texts (prompts and answers). The result is a function of these
        and ``vocab_size`` only, so every process of a run trains the same one.
    vocab_size
        Target size including the 256 byte symbols and the two special tokens; a small
        corpus may stop short of it when no pair occurs twice.

    Returns
    -------
    transformers.PreTrainedTokenizerFast
        With ``eos_token`` ``<|endoftext|>`` and ``pad_token`` ``<|pad|>``.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    core.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=[EOS, PAD],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        eos_token=EOS,
        bos_token=EOS,
        unk_token=EOS,
        pad_token=PAD,
        model_max_length=1024,
    )
