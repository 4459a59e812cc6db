"""The Gradio chat app over a ``ChatService``: streamed answers, rendered recipes, ratings.

Gradio is imported inside the functions (it is an optional extra, and slow to import),
with its analytics switched off first. Endpoints, for ``gradio_client`` and the browser:

- ``/respond(message, temperature, servings)``: streams the chat (Gradio ``messages``),
  then the recipe JSON download; as many at once as the service decodes together
  (its ``batch_size``: 1 serializes them), the rest wait in Gradio's queue.
- ``/rate(turn, rating, comment)``: ``rating`` is ``like``, ``dislike`` or ``cleared``;
  ``turn`` counts this session's answers from 0 (-1: the latest). Returns the stored row.
- ``/rerender(servings)``: the chat again, recipes scaled to ``servings``.
- ``/new_chat()``: forgets this session's turns (so does the chat's own clear button).

The thumbs on each answer in the browser call the same ``rate``, with the comment box.
"""
import os
import time
from collections.abc import Callable
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


def _quiet(component: Any) -> Any:
    """``component``, whose malformed input (servings ``"abc"`` sent to the API) is one line for
    the client and nothing on the server's stderr: Gradio prints a traceback for any error but
    a ``gr.Error`` that asks it not to. (Wrapped on the instance: a subclass of a Gradio
    component makes Gradio write a ``.pyi`` stub beside this module.)"""
    import gradio as gr

    preprocess = component.preprocess

    def quiet_preprocess(payload: Any) -> Any:
        try:
            return preprocess(payload)
        except gr.Error:
            raise
        except Exception:
            shown = str(payload)[:40]
            raise gr.Error(f"{component.label or 'input'}: not a valid value ({shown!r})",
                           print_exception=False) from None

    component.preprocess = quiet_preprocess
    return component


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
        sent: Any = turn  # the hints say what a client should send, not what it may
        try:
            if isinstance(sent, float) and sent.is_integer():  # JSON clients may send 1.0
                sent = int(sent)
            if not isinstance(sent, int) or isinstance(sent, bool):
                raise UsageError(f"turn must be a whole number, not {str(sent)[:40]!r}")
            if not isinstance(rating, str) or not isinstance(comment, (str, type(None))):
                raise UsageError("rating and comment must be text")
            return service.rate(session_of(request), sent, rating, comment)
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
            message = _quiet(gr.Textbox(show_label=False, placeholder="How do I make shakshuka?", scale=5,
                                        elem_id="message", autofocus=True))
            send = gr.Button("Send", variant="primary", scale=1, elem_id="send")
        with gr.Row():
            temperature = _quiet(gr.Slider(0.0, 1.5, value=0.7, step=0.05, label="Temperature",
                                           info="0 always gives the same answer"))
            servings = _quiet(gr.Number(value=None, label="Servings", precision=0, minimum=0, maximum=100,
                                        info="scales the recipes shown; empty or 0: as written",
                                        elem_id="servings"))
        with gr.Row():
            comment = _quiet(gr.Textbox(label="Comment (optional)", scale=4, elem_id="comment",
                                        placeholder="Saved with your next like or dislike"))
            download = gr.DownloadButton("Download recipe (JSON)", visible=False, elem_id="download")
            new = gr.Button("New chat", elem_id="new-chat")
        status = gr.Markdown(elem_id="status")

        gr.on([message.submit, send.click], respond, [message, temperature, servings],
              [chatbot, download, message], concurrency_limit=service.batch_size,
              concurrency_id="model", api_name="respond")
        chatbot.like(on_like, [comment], [status, comment], concurrency_limit=None, api_visibility="private")
        servings.change(rerender, [servings], [chatbot, download], concurrency_limit=None,
                        api_name="rerender")
        gr.on([new.click, chatbot.clear], new_chat, None, [chatbot, download, status], concurrency_limit=None,
              api_name="new_chat")
        gr.api(rate, api_name="rate", concurrency_limit=None)
    return demo


def check_address(host: str, port: int) -> None:
    """Refuse an address the app could not serve on, before anything slow (loading the model).

    Binds a socket the way uvicorn will and lets it go, so an unknown host or a port in use
    is one line (exit 2), not uvicorn's ``ERROR:`` line and Gradio's advice.

    Raises
    ------
    UsageError
        The host is not an address of this machine, or the port is taken.
    """
    import socket

    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (OSError, UnicodeError) as e:
        reason = getattr(e, "strerror", None) or str(e)
        raise UsageError(f"cannot serve on {host}:{port}: unknown host ({reason})") from None
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            probe.bind(address)
        except OSError as e:
            raise UsageError(f"cannot serve on {host}:{port}: {e.strerror or e}") from None


def serve(service: ChatService, host: str = "127.0.0.1", port: int = 7860, block: bool = True,
          on_ready: Callable[[], None] | None = None) -> Any:
    """Build, queue and launch the app on ``host:port``; returns the ``gr.Blocks`` (running).

    ``on_ready`` is called once the app serves (the CLI's banner: never before an error);
    ``block=False`` returns at once (tests; ``demo.close()`` stops it).

    Raises
    ------
    UsageError
        The host or port cannot be used (exit 2).
    """
    import logging

    check_address(host, port)
    demo = build_app(service)
    demo.queue(default_concurrency_limit=1, max_size=QUEUE_SIZE)
    uvicorn_errors = logging.getLogger("uvicorn.error")
    uvicorn_errors.disabled = True  # its "ERROR:" line would repeat what the UsageError says
    try:
        demo.launch(server_name=host, server_port=port, share=False, prevent_thread_lock=True, quiet=True,
                    show_error=True, ssr_mode=False, enable_monitoring=False, mcp_server=False,
                    allowed_paths=[str(service.download_dir)])
    except OSError as e:
        raise UsageError(f"cannot serve on {host}:{port}: {str(e).split('. ')[0]}") from None
    finally:
        uvicorn_errors.disabled = False
    if on_ready:
        on_ready()
    if block:
        demo.block_thread()
    return demo
