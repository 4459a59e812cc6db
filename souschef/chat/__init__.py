"""souschef.chat: the Gradio chat app and its feedback loop back into training."""
