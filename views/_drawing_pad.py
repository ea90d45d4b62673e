"""The MNIST page's drawing pad: a small canvas component of the page's own that sends the
drawing the moment a stroke ends, with undo, redo and reset, its toolbar labelled in the
page's language. `streamlit-drawable-canvas`, which the page used before, waits 200 ms after
each stroke before it sends (a debounce built into its frontend); it is kept, switched on by
`CNNLAB_DRAWING_CANVAS=fabric`, only so that `benchmarks/draw_latency.py` can measure the two
side by side.
"""

from __future__ import annotations

import functools
import os

import numpy as np
import streamlit as st

from cnnlib.drawing import image_from_data_url
from cnnlib.i18n import _

CANVAS_SIDE = 280  # pixels: ten canvas pixels per MNIST pixel
PEN_WIDTH = 20  # a 200-pixel digit drawn with it shrinks to MNIST's 2-pixel strokes
# Which canvas the digit is drawn on: "pad" (below) or "fabric" (for measuring only).
DRAWING_CANVAS = os.environ.get("CNNLAB_DRAWING_CANVAS", "pad")

# The drawing pad: strokes of a round pen, undo, redo and reset, and the drawing sent to the
# server as a PNG data URL when a stroke ends or the toolbar changes it (None when empty). Its
# canvas keeps streamlit-drawable-canvas's class name, `upper-canvas`, by which the browser
# tests find it.
_PAD_CSS = """
.pad-root { display: inline-flex; flex-direction: column; gap: 4px; }
.pad-toolbar { display: flex; justify-content: flex-end; gap: 2px; }
.pad-toolbar button {
    width: 28px; height: 28px; padding: 4px; border: 0; border-radius: 4px; cursor: pointer;
    background: transparent; color: var(--st-text-color, #31333f);
}
.pad-toolbar button:hover:not(:disabled) { background: rgba(128, 128, 128, 0.15); }
.pad-toolbar button:disabled { opacity: 0.35; cursor: default; }
.pad-toolbar svg {
    width: 20px; height: 20px; fill: none; stroke: currentColor; stroke-width: 2;
    stroke-linecap: round; stroke-linejoin: round;
}
.pad-canvas { display: block; cursor: crosshair; touch-action: none; }
"""
_PAD_JS = """
const pads = new WeakMap();

// Outline icons (as Lucide draws undo, redo and a bin), in a 24-pixel box.
const ICONS = {
    undo: ["M9 14 4 9l5-5", "M4 9h10.5a5.5 5.5 0 0 1 0 11H11"],
    redo: ["m15 14 5-5-5-5", "M20 9H9.5a5.5 5.5 0 0 0 0 11H13"],
    reset: [
        "M3 6h18", "M19 6v14c0 1-1 2-2 2H7c-1 0-2-1-2-2V6", "M8 6V4c0-1 1-2 2-2h4c1 0 2 1 2 2v2",
    ],
};

function button(toolbar, name, label, onClick) {
    const element = document.createElement("button");
    element.type = "button";
    element.title = label;
    element.setAttribute("aria-label", label);
    const paths = ICONS[name].map((d) => `<path d="${d}"/>`).join("");
    element.innerHTML = `<svg viewBox="0 0 24 24" aria-hidden="true">${paths}</svg>`;
    element.addEventListener("click", onClick);
    toolbar.appendChild(element);
    return element;
}

function makePad(root) {
    const toolbar = document.createElement("div");
    toolbar.className = "pad-toolbar";
    const canvas = document.createElement("canvas");
    canvas.className = "pad-canvas upper-canvas";
    root.append(toolbar, canvas);
    const context = canvas.getContext("2d");
    const pad = { canvas, strokes: [], undone: [], current: null, options: null, send: null };

    const paint = (stroke) => {
        context.beginPath();
        context.moveTo(stroke[0][0], stroke[0][1]);
        // A lone point still leaves a round dot.
        for (const [x, y] of stroke.length > 1 ? stroke.slice(1) : stroke) context.lineTo(x, y);
        context.stroke();
    };
    const repaint = () => {
        const { width, height, background, pen, penWidth } = pad.options;
        context.fillStyle = background;
        context.fillRect(0, 0, width, height);
        Object.assign(context, { strokeStyle: pen, lineWidth: penWidth });
        Object.assign(context, { lineCap: "round", lineJoin: "round" });
        pad.strokes.forEach(paint);
        undo.disabled = pad.strokes.length === 0;
        redo.disabled = pad.undone.length === 0;
        reset.disabled = pad.strokes.length === 0 && pad.undone.length === 0;
    };
    // The drawing goes to the server the moment it changes: no waiting, no debounce.
    const send = () => pad.send(pad.strokes.length ? canvas.toDataURL("image/png") : null);
    pad.repaint = repaint;
    // Labelled in the page's language once the options arrive.
    pad.label = (labels) => {
        for (const [name, element] of Object.entries({ undo, redo, reset })) {
            element.title = labels[name];
            element.setAttribute("aria-label", labels[name]);
        }
    };

    const undo = button(toolbar, "undo", "undo", () => {
        if (!pad.strokes.length) return;
        pad.undone.push(pad.strokes.pop());
        repaint();
        send();
    });
    const redo = button(toolbar, "redo", "redo", () => {
        if (!pad.undone.length) return;
        pad.strokes.push(pad.undone.pop());
        repaint();
        send();
    });
    const reset = button(toolbar, "reset", "reset", () => {
        pad.strokes = [];
        pad.undone = [];
        repaint();
        send();
    });

    const point = (event) => {
        const box = canvas.getBoundingClientRect();
        return [
            ((event.clientX - box.left) * canvas.width) / box.width,
            ((event.clientY - box.top) * canvas.height) / box.height,
        ];
    };
    canvas.addEventListener("pointerdown", (event) => {
        if (event.button !== 0) return;
        canvas.setPointerCapture(event.pointerId);
        pad.current = [point(event)];
        paint(pad.current);
    });
    canvas.addEventListener("pointermove", (event) => {
        if (!pad.current) return;
        const last = pad.current[pad.current.length - 1];
        const next = point(event);
        pad.current.push(next);
        context.beginPath();
        context.moveTo(last[0], last[1]);
        context.lineTo(next[0], next[1]);
        context.stroke();
    });
    const finish = () => {
        if (!pad.current) return;
        pad.strokes.push(pad.current);
        pad.current = null;
        pad.undone = [];
        repaint();
        send();
    };
    canvas.addEventListener("pointerup", finish);
    canvas.addEventListener("pointercancel", finish);
    return pad;
}

export default function (component) {
    const { data, parentElement, setStateValue } = component;
    const root = parentElement.querySelector(".pad-root");
    let pad = pads.get(parentElement);
    if (!pad) {
        pad = makePad(root);
        pads.set(parentElement, pad);
    }
    pad.send = (value) => setStateValue("drawing", value);
    const options = JSON.stringify(data);
    if (options !== JSON.stringify(pad.options)) {
        pad.options = data;
        pad.canvas.width = data.width;
        pad.canvas.height = data.height;
        pad.label(data.labels);
        pad.repaint();
    }
    return () => {
        pads.delete(parentElement);
        root.replaceChildren();
    };
}
"""


@functools.cache
def _pad_component():
    return st.components.v2.component(
        "cnnlab_drawing_pad", html='<div class="pad-root"></div>', css=_PAD_CSS, js=_PAD_JS
    )


def _drawing_pad() -> np.ndarray | None:
    """The drawing pad; returns the drawing as RGBA (H, W, 4) uint8, or None while empty."""
    result = _pad_component()(
        data={
            "width": CANVAS_SIDE,
            "height": CANVAS_SIDE,
            "background": "#000000",
            "pen": "#FFFFFF",
            "penWidth": PEN_WIDTH,
            "labels": {"undo": _("Undo"), "redo": _("Redo"), "reset": _("Clear the drawing")},
        },
        key="mnist_canvas",
        default={"drawing": None},
        on_drawing_change=lambda: None,
        width="content",
        height="content",
    )
    url = result.get("drawing")
    return None if url is None else image_from_data_url(url)


def _fabric_canvas() -> np.ndarray | None:
    """streamlit-drawable-canvas, as the page drew digits before the pad; for measuring."""
    from streamlit_drawable_canvas import st_canvas

    # The toolbar floats just above the canvas: leave it room so it hides no text.
    st.space(40)
    canvas = st_canvas(
        stroke_width=PEN_WIDTH,
        stroke_color="#FFFFFF",
        background_color="#000000",
        width=CANVAS_SIDE,
        height=CANVAS_SIDE,
        drawing_mode="freedraw",
        return_image_data=True,
        key="mnist_canvas",
    )
    return canvas.image_data


def drawing_pad() -> np.ndarray | None:
    """The chosen canvas; returns the drawing as RGBA (H, W, 4) uint8, or None while empty."""
    return _fabric_canvas() if DRAWING_CANVAS == "fabric" else _drawing_pad()
