"""image: resize, crop, convert, annotate, thumbnail, chart and generate images as task artifacts.

It reads only images under the task's artifacts directory (or given inline as base64) and
writes only under artifacts_dir/<task id>/, within the task's artifact budget; it must never
read a path outside, never make an image over AGENT_IMAGE_MAX_PIXELS (checked before a pixel
is allocated), and it reaches an image provider only through the egress policy (tools.http.request).
"""
from __future__ import annotations

import io
import math
import uuid
import warnings
from typing import Annotated, Any, Literal

from PIL import Image, ImageColor, ImageDraw, ImageFont, UnidentifiedImageError
from pydantic import ConfigDict, Field, model_validator

from . import http
from .base import Tool, ToolContext, ToolInput
from .config import setting
from .errors import ToolError, ToolInputError
from .files import decode_base64, read_artifact, write_artifact

tool = Tool("image", "Edit images (resize, crop, convert, annotate, thumbnail), draw charts, generate images.")

Format = Literal["png", "jpeg", "webp", "gif", "bmp", "tiff"]
PIL_FORMATS = {"png": "PNG", "jpeg": "JPEG", "jpg": "JPEG", "webp": "WEBP", "gif": "GIF", "bmp": "BMP", "tiff": "TIFF"}
MAX_SIDE = 10_000
DEFAULT_MAX_PIXELS = 40_000_000  # inputs and outputs alike; a decompression bomb is refused before it is decoded
MAX_BYTES = 25 * 1024 * 1024
PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"]
Side = Annotated[int, Field(ge=1, le=MAX_SIDE)]


class SourceInput(ToolInput):
    path: str | None = Field(default=None, max_length=4096,
                             description="An image file in the task's artifacts directory")
    base64: str | None = Field(default=None, max_length=MAX_BYTES * 4 // 3 + 100,
                               description="The image itself, base64 (a data: URL is accepted)")
    format: Format | None = Field(default=None, description="Output format; the input's format when absent")


class ResizeInput(SourceInput):
    width: Side | None = None
    height: Side | None = Field(default=None, description="Give one side to keep the aspect ratio, both to force it")


class CropInput(SourceInput):
    left: int = Field(ge=0)
    top: int = Field(ge=0)
    width: Side
    height: Side


class ConvertInput(SourceInput):
    format: Format
    quality: int = Field(default=90, ge=1, le=100, description="For jpeg and webp")


class TextMark(ToolInput):
    type: Literal["text"]
    x: int
    y: int
    text: str = Field(min_length=1, max_length=500)
    color: str = Field(default="red", max_length=40, description="A CSS colour name or #rrggbb")
    size: int = Field(default=24, ge=6, le=400)


class RectangleMark(ToolInput):
    type: Literal["rectangle"]
    x: int
    y: int
    width: Side
    height: Side
    color: str = Field(default="red", max_length=40)
    fill: str | None = Field(default=None, max_length=40)
    line_width: int = Field(default=3, ge=0, le=100, alias="lineWidth")


class AnnotateInput(SourceInput):
    marks: list[Annotated[TextMark | RectangleMark, Field(discriminator="type")]] = Field(min_length=1, max_length=200)


class ThumbnailInput(SourceInput):
    max_width: Side = Field(default=320, alias="maxWidth")
    max_height: Side = Field(default=320, alias="maxHeight")


class Series(ToolInput):
    model_config = ConfigDict(allow_inf_nan=False)
    name: str = Field(max_length=100)
    values: list[float] = Field(min_length=1, max_length=500)


class ChartInput(ToolInput):
    type: Literal["bar", "line"] = "bar"
    labels: list[str] = Field(min_length=1, max_length=500)
    series: list[Series] = Field(min_length=1, max_length=len(PALETTE))
    title: str = Field(default="", max_length=200)
    width: int = Field(default=800, ge=200, le=4000)
    height: int = Field(default=500, ge=150, le=4000)
    format: Format = "png"

    @model_validator(mode="after")
    def _same_lengths(self) -> ChartInput:
        for series in self.series:
            if len(series.values) != len(self.labels):
                raise ValueError(
                    f"series {series.name!r} has {len(series.values)} values for {len(self.labels)} labels")
        return self


class GenerateInput(ToolInput):
    prompt: str = Field(min_length=1, max_length=4000)
    size: str = Field(default="1024x1024", pattern=r"^\d{2,4}x\d{2,4}$", description="WIDTHxHEIGHT")
    format: Format = "png"


def max_pixels() -> int:
    return setting("AGENT_IMAGE_MAX_PIXELS", DEFAULT_MAX_PIXELS)


def check_size(width: int, height: int, what: str) -> None:
    """Refuse an image over the pixel cap from its size alone, before it is decoded or made."""
    if width * height > max_pixels():
        raise ToolInputError(f"{what} would be {width}x{height} = {width * height} pixels, over the "
                             f"{max_pixels()}-pixel limit (AGENT_IMAGE_MAX_PIXELS)")


def _decode(raw: bytes, what: str) -> Image.Image:
    try:
        with warnings.catch_warnings():
            # Pillow's own bomb check, whatever Image.MAX_IMAGE_PIXELS another module left it at
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(raw))
            check_size(image.width, image.height, what)  # from the header, before a pixel is decoded
            image.load()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ToolInputError(f"{what} is not an image Pillow can read: {exc}") from None
    return image


def _open(params: SourceInput, context: ToolContext) -> Image.Image:
    if (params.path is None) == (params.base64 is None):
        raise ToolInputError("give exactly one of path (a file in the task's artifacts) or base64")
    if params.path is not None:
        path, raw = read_artifact(context, params.path, MAX_BYTES)  # refuses anything outside the artifacts
        return _decode(raw, path.name)
    data = params.base64 or ""
    data = data.split(",", 1)[1] if data.startswith("data:") else data
    return _decode(decode_base64(data, MAX_BYTES, "the base64 image"), "the base64 image")


def _save(image: Image.Image, context: ToolContext, action: str, fmt: str | None, **options: Any) -> dict[str, Any]:
    fmt = (fmt or (image.format or "png")).lower()
    fmt = "jpeg" if fmt == "jpg" else fmt
    if fmt not in PIL_FORMATS:
        fmt = "png"
    if fmt in ("jpeg", "bmp") and image.mode not in ("RGB", "L"):
        # no alpha in these formats: flatten onto white rather than onto black
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, "white")
        flat.paste(rgba, mask=rgba.getchannel("A"))
        image = flat
    check_size(image.width, image.height, f"the {action} result")
    encoded = io.BytesIO()
    image.save(encoded, PIL_FORMATS[fmt], **options)
    path = write_artifact(context, f"{action}-{uuid.uuid4().hex[:12]}.{fmt}", encoded.getvalue())
    return {"path": str(path), "width": image.width, "height": image.height, "format": fmt}


def _color(value: str) -> tuple[int, ...]:
    try:
        return ImageColor.getrgb(value)
    except ValueError:
        raise ToolInputError(f"{value!r} is not a colour (use a name like 'red' or #rrggbb)") from None


@tool.action("resize", credits=10)
def resize(params: ResizeInput, context: ToolContext) -> dict[str, Any]:
    """Resize an image to width and/or height (one side keeps the aspect ratio); returns path, width, height, format."""
    if params.width is None and params.height is None:
        raise ToolInputError("image.resize needs width, height or both")
    image = _open(params, context)
    width = params.width or max(1, round(image.width * params.height / image.height))  # type: ignore[operator]
    height = params.height or max(1, round(image.height * width / image.width))
    check_size(width, height, "the resized image")  # 10x10 -> 10000x10000 is refused here, not allocated
    return _save(image.resize((width, height), Image.Resampling.LANCZOS), context, "resize",
                 params.format or image.format)


@tool.action("crop", credits=10)
def crop(params: CropInput, context: ToolContext) -> dict[str, Any]:
    """Cut the box (left, top, width, height) out of an image; the box must lie inside it."""
    image = _open(params, context)
    right, bottom = params.left + params.width, params.top + params.height
    if right > image.width or bottom > image.height:
        raise ToolInputError(f"the box reaches ({right}, {bottom}) but the image is {image.width}x{image.height}")
    return _save(image.crop((params.left, params.top, right, bottom)), context, "crop", params.format or image.format)


@tool.action("convert", credits=10)
def convert(params: ConvertInput, context: ToolContext) -> dict[str, Any]:
    """Save an image in another format (png, jpeg, webp, gif, bmp, tiff)."""
    image = _open(params, context)
    options = {"quality": params.quality} if params.format in ("jpeg", "webp") else {}
    return _save(image, context, "convert", params.format, **options)


@tool.action("annotate", credits=10)
def annotate(params: AnnotateInput, context: ToolContext) -> dict[str, Any]:
    """Draw text and rectangles on an image (e.g. to point at something in a screenshot)."""
    source = _open(params, context)
    image = source.convert("RGBA") if source.mode not in ("RGB", "RGBA") else source.copy()
    draw = ImageDraw.Draw(image)
    for mark in params.marks:
        if isinstance(mark, TextMark):
            draw.text((mark.x, mark.y), mark.text, fill=_color(mark.color), font=ImageFont.load_default(size=mark.size))
        else:
            draw.rectangle((mark.x, mark.y, mark.x + mark.width - 1, mark.y + mark.height - 1),
                           outline=_color(mark.color), fill=_color(mark.fill) if mark.fill else None,
                           width=mark.line_width)
    return _save(image, context, "annotate", params.format or source.format)


@tool.action("thumbnail", credits=10)
def thumbnail(params: ThumbnailInput, context: ToolContext) -> dict[str, Any]:
    """Shrink an image to fit maxWidth x maxHeight, keeping its aspect ratio (never enlarges)."""
    image = _open(params, context)
    fmt = params.format or image.format
    image.thumbnail((params.max_width, params.max_height), Image.Resampling.LANCZOS)
    return _save(image, context, "thumbnail", fmt)


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2, 2.5 or 5 times a power of ten) covering low..high."""
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start, end = math.floor(low / step) * step, math.ceil(high / step) * step
    return [start + i * step for i in range(round((end - start) / step) + 1)]


class _Plot:
    """The plot area of a chart and the mapping from values to pixels."""

    def __init__(self, params: ChartInput, draw: ImageDraw.ImageDraw, font: ImageFont.FreeTypeFont):
        values = [v for series in params.series for v in series.values]
        low, high = min(0.0, *values), max(0.0, *values)
        self.ticks = _ticks(low, high if high > low else low + 1)
        self.low, self.high = self.ticks[0], self.ticks[-1]
        self.top = 20 + (font.size * 2 if params.title else 0) + font.size * 2  # title, then the legend
        self.left = 20 + max(draw.textlength(f"{t:g}", font=font) for t in self.ticks)
        self.right, self.bottom = params.width - 20, params.height - font.size * 2 - 10
        self.group = (self.right - self.left) / len(params.labels)  # the width given to each label

    def y(self, value: float) -> float:
        return self.bottom - (value - self.low) / (self.high - self.low) * (self.bottom - self.top)

    def x(self, index: float) -> float:
        return self.left + index * self.group


def _draw_axes(draw: ImageDraw.ImageDraw, plot: _Plot, params: ChartInput, font: ImageFont.FreeTypeFont) -> None:
    if params.title:
        draw.text((params.width / 2, 10), params.title, fill="black", font=font, anchor="ma")
    for tick in plot.ticks:
        draw.line((plot.left, plot.y(tick), plot.right, plot.y(tick)), fill="#dddddd")
        draw.text((plot.left - 6, plot.y(tick)), f"{tick:g}", fill="black", font=font, anchor="rm")
    draw.line((plot.left, plot.top, plot.left, plot.bottom), fill="black")
    draw.line((plot.left, plot.y(0), plot.right, plot.y(0)), fill="black")
    every = max(1, math.ceil(len(params.labels) * font.size * 4 / (plot.right - plot.left)))  # no overlapping labels
    for i in range(0, len(params.labels), every):
        draw.text((plot.x(i + 0.5), plot.bottom + 6), params.labels[i][:20], fill="black", font=font, anchor="ma")


def _draw_series(draw: ImageDraw.ImageDraw, plot: _Plot, params: ChartInput, font: ImageFont.FreeTypeFont) -> None:
    for n, series in enumerate(params.series):
        color = PALETTE[n]
        if params.type == "bar":
            bar = plot.group * 0.8 / len(params.series)
            for i, value in enumerate(series.values):
                x = plot.x(i + 0.1) + n * bar
                draw.rectangle((x, min(plot.y(value), plot.y(0)), x + max(bar - 1, 1), max(plot.y(value), plot.y(0))),
                               fill=color)
        else:
            points = [(plot.x(i + 0.5), plot.y(v)) for i, v in enumerate(series.values)]
            if len(points) > 1:
                draw.line(points, fill=color, width=3, joint="curve")
            for x, y in points:
                draw.ellipse((x - 4, y - 4, x + 4, y + 4), fill=color)
        legend_x, legend_y = plot.left + n * (plot.right - plot.left) / len(params.series), plot.top - font.size * 1.5
        draw.rectangle((legend_x, legend_y, legend_x + font.size, legend_y + font.size), fill=color)
        draw.text((legend_x + font.size * 1.4, legend_y), series.name[:30], fill="black", font=font)


@tool.action("chart", credits=20)
def chart(params: ChartInput, context: ToolContext) -> dict[str, Any]:
    """Draw a bar or line chart of `series` (each a name and one value per label) over `labels`."""
    check_size(params.width, params.height, "the chart")
    image = Image.new("RGB", (params.width, params.height), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=max(10, min(params.width, params.height) // 40))
    assert isinstance(font, ImageFont.FreeTypeFont)  # Pillow's wheels bundle FreeType
    plot = _Plot(params, draw, font)
    _draw_axes(draw, plot, params, font)
    _draw_series(draw, plot, params, font)
    return _save(image, context, "chart", params.format)


@tool.action("generate", credits=100)
def generate(params: GenerateInput, context: ToolContext) -> dict[str, Any]:
    """Generate an image from a text prompt with the configured image provider."""
    width, height = (int(side) for side in params.size.split("x"))
    check_size(width, height, "the generated image")  # before the provider is paid to make it
    url = setting("AGENT_IMAGE_PROVIDER_URL", "")
    if not url:
        raise ToolError("image generation needs AGENT_IMAGE_PROVIDER_URL: the URL of a provider that answers "
                        'POST {"prompt", "size"} with JSON {"image": "<base64>"}; none is configured')
    key = setting("AGENT_IMAGE_PROVIDER_KEY", "")
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    timeout = float(setting("AGENT_IMAGE_PROVIDER_TIMEOUT_S", "60"))
    body = http.request("POST", url, context, headers=headers, body={"prompt": params.prompt, "size": params.size},
                        timeout_s=timeout)["body"]
    encoded = None
    if isinstance(body, dict):  # {"image": b64}, or the OpenAI shape {"data": [{"b64_json": b64}]}
        data = body.get("data")
        encoded = body.get("image") or body.get("b64_json") or (
            data[0].get("b64_json") if isinstance(data, list) and data and isinstance(data[0], dict) else None)
    if not isinstance(encoded, str):
        raise ToolError(f"the image provider at {url} answered without an image (expected JSON with 'image')")
    image = _decode(decode_base64(encoded, MAX_BYTES, "the generated image"), "the generated image")
    return _save(image, context, "generate", params.format)
