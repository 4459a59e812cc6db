"""The Gradio chat app over a ``ChatService``: streamed answers, rendered recipes, ratings.

Gradio is imported inside the functions (it is an optional extra, and slow to import),
with its analytics switched off first. Endpoints, for ``gradio_client`` and the browser:

- ``/respond(message, temperature, servings)``: streams the chat (Gradio ``messages``),
  then the recipe JSON download; serialized (queue concurrency 1, and a lock).
- ``/rate(turn, rating, comment)``: ``rating`` is ``like``, ``dislike`` or ``cleared``;
  ``turn`` counts this session's answers from 0 (-1: the latest). Returns the stored row.
- ``/rerender(servings)``: the chat again, recipes scaled to ``servings``.
- ``/new_chat()``: forgets this session's turns (so does the chat's own clear button).

The thumbs on each answer in the browser call the same ``rate``, with the comment box.
"""
import os
import time
from typing import Any

from recipe_schema import SouschefError, UsageError

from .service import LIKED, ChatService

STREAM_EVERY_S = 0.05  # send the growing answer at most this often (every token would flood the socket)
QUEUE_SIZE = 256  # requests waiting beyond this are refused ("queue full") instead of piling up


def import_gradio() -> Any:
    """Gradio, with analytics off; a clear message when the ``ui`` extra is missing."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    try:
        import gradio
    except ImportError:
        raise UsageError("the chat app needs Gradio: pip install 'souschef[ui]'") from None
    return gradio


def _servings(value: float | None) -> int | None:
    if value is None or value == 0:
        return None
    if value != int(value) or not 1 <= value <= 100:
        raise UsageError(f"servings must be a whole number from 1 to 100, not {value}")
    return int(value)


def build_app(service: ChatService) -> Any:
    """The ``gr.Blocks`` app (not launched; see ``serve``)."""
    import_gradio()  # analytics off first; a clear error when the extra is missing
    import gradio as gr

    def session_of(request: gr.Request | None) -> str:
        if request is None or not request.session_hash:  # every queued call has one
            raise gr.Error("no session: call through the Gradio queue", print_exception=False)
        return str(request.session_hash)

    def chat_update(session: str, servings: int | None) -> list[dict[str, str]]:
        return service.messages(session, servings)

    def download_update(session: str, servings: int | None) -> Any:
        path = service.download(session, servings)
        return gr.DownloadButton(value=str(path) if path else None, visible=path is not None)

    def respond(message: str, temperature: float, servings: float | None, request: gr.Request):
        session = session_of(request)
        try:
            scale = _servings(servings)
            answer = service.ask(session, message or "", temperature)
            last = 0.0
            for _turn in answer:
                if time.monotonic() - last >= STREAM_EVERY_S:
                    last = time.monotonic()
                    yield chat_update(session, scale), gr.skip(), ""
        except SouschefError as e:
            raise gr.Error(str(e), print_exception=False) from None
        yield chat_update(session, scale), download_update(session, scale), ""

    def rate(turn: int, rating: str, comment: str = "", request: gr.Request | None = None) -> dict:
        """Rate an answer of this chat: like, dislike or cleared; turn 0 is the first, -1 the latest."""
        try:
            return service.rate(session_of(request), int(turn), rating, comment)
        except SouschefError as e:
            raise gr.Error(str(e), print_exception=False) from None

    def on_like(comment: str, data: gr.LikeData, request: gr.Request):
        index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
        rating = LIKED.get(data.liked, "cleared") if isinstance(data.liked, bool) else "cleared"
        saved = rate(index // 2, rating, comment, request)
        verb = {"like": "like", "dislike": "dislike", "cleared": "cleared rating"}[rating]
        return f"Saved your {verb} of answer {saved['turn'] + 1}. Thank you!", ""

    def rerender(servings: float | None, request: gr.Request):
        try:
            scale = _servings(servings)
        except SouschefError as e:
            raise gr.Error(str(e), print_exception=False) from None
        session = session_of(request)
        return chat_update(session, scale), download_update(session, scale)

    def new_chat(request: gr.Request):
        service.reset(session_of(request))
        return [], gr.DownloadButton(value=None, visible=False), ""

    with gr.Blocks(title="souschef") as demo:
        gr.Markdown("## souschef\nAsk for a recipe, or anything about cooking. Rate each answer with "
                    "the thumbs under it: liked answers can become training data.")
        chatbot = gr.Chatbot(label="Chat", height=520, feedback_options=("Like", "Dislike"),
                             placeholder="What shall we cook today?", elem_id="chat")
        with gr.Row():
            message = gr.Textbox(show_label=False, placeholder="How do I make shakshuka?", scale=5,
                                 elem_id="message", autofocus=True)
            send = gr.Button("Send", variant="primary", scale=1, elem_id="send")
        with gr.Row():
            temperature = gr.Slider(0.0, 1.5, value=0.7, step=0.05, label="Temperature",
                                    info="0 always gives the same answer")
            servings = gr.Number(value=None, label="Servings", precision=0, minimum=0, maximum=100,
                                 info="scales the recipes shown; empty or 0: as written", elem_id="servings")
        with gr.Row():
            comment = gr.Textbox(label="Comment (optional)", scale=4, elem_id="comment",
                                 placeholder="Saved with your next like or dislike")
            download = gr.DownloadButton("Download recipe (JSON)", visible=False, elem_id="download")
            new = gr.Button("New chat", elem_id="new-chat")
        status = gr.Markdown(elem_id="status")

        gr.on([message.submit, send.click], respond, [message, temperature, servings],
              [chatbot, download, message], concurrency_limit=1, concurrency_id="model", api_name="respond")
        chatbot.like(on_like, [comment], [status, comment], concurrency_limit=None, api_visibility="private")
        servings.change(rerender, [servings], [chatbot, download], concurrency_limit=None,
                        api_name="rerender")
        gr.on([new.click, chatbot.clear], new_chat, None, [chatbot, download, status], concurrency_limit=None,
              api_name="new_chat")
        gr.api(rate, api_name="rate", concurrency_limit=None)
    return demo


def serve(service: ChatService, host: str = "127.0.0.1", port: int = 7860, block: bool = True) -> Any:
    """Build, queue and launch the app on ``host:port``; returns the ``gr.Blocks`` (running).

    ``block=False`` returns at once (tests; ``demo.close()`` stops it).

    Raises
    ------
    UsageError
        The port cannot be used (exit 2).
    """
    demo = build_app(service)
    demo.queue(default_concurrency_limit=1, max_size=QUEUE_SIZE)
    try:
        demo.launch(server_name=host, server_port=port, share=False, prevent_thread_lock=True, quiet=True,
                    show_error=True, ssr_mode=False, enable_monitoring=False, mcp_server=False,
                    allowed_paths=[str(service.download_dir)])
    except OSError as e:
        raise UsageError(f"cannot serve on {host}:{port}: {e}") from None
    if block:
        demo.block_thread()
    return demo
