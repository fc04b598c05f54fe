// The frame stream: one WebSocket per playing page (docs/api.md, "The frame stream").
//
//   const s = new FrameStream(sid);   // opens ws(s)://<same host>/api/sessions/{sid}/stream
//   const frame = await s.step({epochs, since, grid});  // resolves with one frame
//   s.close();
//
// The frame has the keys of the JSON frame (docs/api.md, app/frames.py) plus epochs_run, except
// that every heatmap is a Uint8Array (row-major, row 0 = the bottom of the square, x2 = -6) and
// every layer's gradients a Float32Array (row-major) instead of a typed-array object. A lost or
// expired session rejects with a FrameStream.Expired; any other problem with an Error(message).
// Answers come in the order of the requests; a closed connection is opened again by the next step.
"use strict";

(() => {
  class Expired extends Error {}

  const decoder = new TextDecoder();

  // Each {"u8": [offset, length]} of the message's JSON becomes a view of the bytes after it,
  // each {"f4": [offset, length]} a Float32Array of them.
  function revive(value, buffer, base) {
    if (Array.isArray(value)) {
      return value.length && typeof value[0] === "object" ? value.map((v) => revive(v, buffer, base)) : value;
    }
    if (value === null || typeof value !== "object") return value;
    if (Array.isArray(value.u8)) return new Uint8Array(buffer, base + value.u8[0], value.u8[1]);
    // a Float32Array must start at a multiple of 4 bytes: it gets a copy of its few bytes
    if (Array.isArray(value.f4)) return new Float32Array(buffer.slice(base + value.f4[0], base + value.f4[0] + value.f4[1]));
    for (const key of Object.keys(value)) value[key] = revive(value[key], buffer, base);
    return value;
  }

  function problem(head) {
    const detail = Array.isArray(head.detail)
      ? head.detail.map((p) => `${p.field}: ${p.message}`).join("; ")
      : String(head.detail);
    return head.error === 404 ? new Expired(detail) : new Error(detail);
  }

  class FrameStream {
    constructor(sid) {
      const scheme = location.protocol === "https:" ? "wss:" : "ws:";
      this.url = `${scheme}//${location.host}/api/sessions/${encodeURIComponent(sid)}/stream`;
      this.waiting = []; // {resolve, reject} per request sent, in order
      this.closed = false;
      this.socket = null;
      this.open();
    }

    open() {
      const socket = new WebSocket(this.url);
      socket.binaryType = "arraybuffer";
      this.ready = new Promise((resolve, reject) => {
        socket.onopen = () => resolve();
        socket.onerror = () => reject(new Error("the frame stream could not connect"));
      });
      this.ready.catch(() => {}); // reported to the step that waits for it
      socket.onmessage = (event) => this.receive(event.data);
      socket.onclose = () => {
        if (this.socket === socket) this.socket = null;
        for (const w of this.waiting.splice(0)) w.reject(new Error("the frame stream closed"));
      };
      this.socket = socket;
    }

    receive(buffer) {
      const waiter = this.waiting.shift();
      if (!waiter) return;
      try {
        const length = new DataView(buffer).getUint32(0, true);
        const head = JSON.parse(decoder.decode(new Uint8Array(buffer, 4, length)));
        if (head.error !== undefined) waiter.reject(problem(head));
        else waiter.resolve(revive(head, buffer, 4 + length));
      } catch (error) {
        waiter.reject(error);
      }
    }

    async step({ epochs = 1, since = -1, grid } = {}) {
      if (this.closed) throw new Error("the frame stream is closed");
      if (!this.socket) this.open();
      const socket = this.socket;
      await this.ready;
      if (socket.readyState !== WebSocket.OPEN) throw new Error("the frame stream closed");
      const request = grid === undefined ? { epochs, since } : { epochs, since, grid };
      return new Promise((resolve, reject) => {
        this.waiting.push({ resolve, reject });
        socket.send(JSON.stringify(request));
      });
    }

    close() {
      this.closed = true;
      if (this.socket) this.socket.close();
      this.socket = null;
    }
  }

  FrameStream.Expired = Expired;
  window.FrameStream = FrameStream;
})();
