#!/usr/bin/env -S node --max-semi-space-size=4 --no-parallel-scavenge
// A smaller young generation than V8's default (up to 3 x 16 MiB) keeps the resident set of a
// sidecar holding thousands of queued events flat; scavenges get more frequent, each one cheaper.
// Scavenges run on the main thread alone: helper threads took more CPU than they saved on a machine
// whose cores the database uses too (docs/benchmarks.md, "CPU per change").
import '../dist/cli.js';
