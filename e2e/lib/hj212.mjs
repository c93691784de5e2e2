// A data logger, as far as a browser test needs one: HJ 212-2017 minute uploads framed with the
// standard's CRC (Appendix A), sent over TCP to the gateway, acknowledgements counted.
import { connect } from "node:net";

/** The CRC of HJ 212-2017 Appendix A over the data segment. */
export function crc16(bytes) {
  let reg = 0xffff;
  for (const b of bytes) {
    reg = (reg >> 8) ^ b;
    for (let i = 0; i < 8; i++) {
      const carry = reg & 1;
      reg >>= 1;
      if (carry) reg ^= 0xa001;
    }
  }
  return reg;
}

/** `##` + length + segment + CRC + CRLF. */
export function frame(segment) {
  const body = Buffer.from(segment, "ascii");
  const crc = crc16(body).toString(16).toUpperCase().padStart(4, "0");
  return `##${String(body.length).padStart(4, "0")}${segment}${crc}\r\n`;
}

/** China time (UTC+8) as the standard's yyyyMMddHHmmss. */
export function hjTime(ms) {
  return new Date(ms + 8 * 3600_000).toISOString().replace(/[-:T]/g, "").slice(0, 14);
}

/** One minute upload (CN 2051) of `values` ({factor: avg}) at `ms`, acknowledgement asked. */
export function minuteUpload({ mn, password, st = "31" }, ms, values) {
  const cp = Object.entries(values)
    .map(([f, v]) => `${f}-Avg=${v.toFixed(3)},${f}-Min=${v.toFixed(3)},${f}-Max=${v.toFixed(3)},${f}-Flag=N`)
    .join(";");
  const qn = `${hjTime(ms)}${String(ms % 1000).padStart(3, "0")}`;
  return frame(`QN=${qn};ST=${st};CN=2051;PW=${password};MN=${mn};Flag=5;CP=&&DataTime=${hjTime(ms)};${cp}&&`);
}

/** Send the frames over one connection and wait for as many 9014 acknowledgements. */
export function sendAll(address, frames, timeoutMs = 60_000) {
  const [host, port] = address.split(":");
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port: Number(port) });
    let received = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`only ${(received.match(/CN=9014/g) || []).length} of ${frames.length} acknowledged`));
    }, timeoutMs);
    socket.on("data", (d) => {
      received += d;
      if ((received.match(/CN=9014/g) || []).length >= frames.length) {
        clearTimeout(timer);
        socket.end();
        resolve(received);
      }
    });
    socket.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    socket.write(frames.join(""));
  });
}
