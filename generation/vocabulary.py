"""Token ids -> the bytes they stand for, for constrained decoding.

A grammar works on bytes, a model on token ids. Byte-level BPE vocabularies
(GPT-2 and the tokenizers souschef trains) spell bytes with printable stand-ins
(``Ġ`` is a space); a token that holds half of a UTF-8 character must keep its
real byte, not become U+FFFD, or multi-byte text could never be spelled.
SentencePiece-style vocabularies use ``▁`` for a space and ``<0xNN>`` for bytes.
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

_BYTE_TOKEN = re.compile(r"^<0x([0-9A-Fa-f]{2})>$")


@lru_cache(maxsize=1)
def byte_decoder() -> dict[str, int]:
    """GPT-2's printable stand-in for each byte, reversed (as in openai/gpt-2 encoder.py)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    bs += list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs, strict=True)}


def token_bytes(tokenizer: Any) -> dict[int, bytes]:
    """The bytes of every ordinary token (special tokens are left out).

    Parameters
    ----------
    tokenizer
        A Hugging Face tokenizer (``PreTrainedTokenizerFast`` or compatible).
    """
    special = set(tokenizer.all_special_ids)
    vocab: dict[str, int] = tokenizer.get_vocab()
    decoder = byte_decoder()
    byte_level = all(ch in decoder for token in list(vocab)[:2000] for ch in token)
    out: dict[int, bytes] = {}
    for token, i in vocab.items():
        if i in special:
            continue
        if byte_level and all(ch in decoder for ch in token):
            out[i] = bytes(decoder[ch] for ch in token)
            continue
        m = _BYTE_TOKEN.match(token)
        out[i] = bytes([int(m.group(1), 16)]) if m else token.replace("▁", " ").encode("utf-8")
    return out
