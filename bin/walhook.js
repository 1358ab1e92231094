#!/usr/bin/env -S node --max-semi-space-size=4
// A smaller young generation than V8's default (up to 3 x 16 MiB) keeps the resident set of a
// sidecar holding thousands of queued events flat; scavenges get more frequent, each one cheaper.
import '../dist/cli.js';
