/**
 * Makes the process exit quietly once the reader of its stdout or stderr has gone away
 * (`walhook dlq list | head -1`). Node ignores SIGPIPE, so the next write fails with EPIPE, and an
 * unhandled stream error would end the command with a stack trace for output nobody reads. The shell
 * reports the reader's status for the pipeline; this exit code only matters under `pipefail`, where
 * stopping because the reader had enough is no failure.
 */
export function exitQuietlyWhenOutputCloses(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
      process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
    });
  }
}
