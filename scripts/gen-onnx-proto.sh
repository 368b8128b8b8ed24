#!/bin/sh
# Regenerates src/onnx/onnx-pb.{js,d.ts} from src/onnx/onnx.proto with protobufjs's own compiler
# (static code over protobufjs/minimal: no runtime code generation, which Workers forbid).
# Needs the npm registry once (protobufjs-cli is not a project dependency: its output is committed).
set -eu
cd "$(dirname "$0")/.."
PBJS="npx -y -p protobufjs-cli@2.7.1"
$PBJS pbjs -t static-module -w es6 --es6 --no-create --no-decode --no-verify --no-convert \
  --no-delimited --no-typeurl --no-service -o src/onnx/onnx-pb.js src/onnx/onnx.proto
$PBJS pbts --no-comments -o src/onnx/onnx-pb.d.ts src/onnx/onnx-pb.js
# pbts writes a CommonJS-style import of `long`; int64 fields here are plain numbers.
sed -i 's/^import Long = require("long");$/type Long = { low: number; high: number; unsigned: boolean };/' \
  src/onnx/onnx-pb.d.ts
