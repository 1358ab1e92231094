#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { configOption, parseUsage, usageError } from './commands/args.js';
import { exitQuietlyWhenOutputCloses } from './commands/closed-output.js';
import { isWalhookError } from './core/errors.js';
import { redactText } from './core/redact.js';
import { version } from './core/version.js';

const USAGE = `Usage: walhook <command> [options]

Commands:
  run       --config FILE   stream changes to webhooks (FILE defaults to $WALHOOK_CONFIG)
  validate  --config FILE   check the config file, TLS files, admin token, each sink's reachability
                            and, when reachable, the database (the checks run runs at start)
  reload    [--config FILE] [--url URL]
            make a running walhook read its config again and apply added, removed and changed
            triggers without reconnecting (as SIGHUP does); the admin token comes from FILE, or
            from $WALHOOK_ADMIN_TOKEN with --url
  demo      [--follow]      run walhook against an embedded Postgres and show deliveries
  status    [--url URL] [--watch] [--json]
            show a running walhook's state: lag, slot, in-flight, triggers, dead letters
            (URL defaults to $WALHOOK_URL, else http://127.0.0.1:9187; --watch redraws every 2 s)
  dlq list       --config FILE [--trigger T] [--since DURATION] [--limit N] [--json]
                 show dead letters (deliveries that ran out of retries), oldest first, as a table
                 (the first 100 unless --limit) or JSON lines (all unless --limit); --since 12h
                 shows those dead-lettered in the last 12 hours
  dlq redeliver  --config FILE (--id ID | --trigger T | --all)
                 POST them again, once each; delivered ones leave the store
  dlq purge      --config FILE (--id ID | --trigger T | --older-than DURATION)
                 delete them; DURATION is like 7d, 12h or 30m
                 (each dlq command takes --pipeline NAME to work on one pipeline's letters only)
  events redeliver  --config FILE --id ID [--pipeline NAME]
                 POST one event again: its dead letter, else its latest attempt in the
                 invocation log (an event delivered fine too); kept as a dead letter if it fails
  invoke    --config FILE --trigger T --key JSON
            read the row with this primary key now and deliver it as a MANUAL event
            (the trigger needs enable_manual: true; walhook run must be running)
  backfill  --config FILE --trigger T [--where EXPR] [--batch-size N] [--op manual|read]
            [--restart] [--detach] [--cancel]
            send the table's existing rows through the trigger, in primary-key order, with a
            progress bar; continues where a stopped backfill ended unless --restart
  import-hasura  PATH [--source NAME] [--out FILE] [--partial] [--hasura-version V]
                 write the walhook config for a Hasura project's event triggers (PATH: its
                 metadata folder or JSON export) and report each trigger on stderr; exit 2 when
                 one cannot be mapped (the config is then written only with --partial)

Options:
  -h, --help      show this help
  -v, --version   print the version`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return command === undefined ? 2 : 0;
  }
  if (command === '-v' || command === '--version') {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  switch (command) {
    case 'run': {
      const { runCommand } = await import('./commands/run.js');
      return runCommand(rest);
    }
    case 'validate': {
      const path = configOption(rest);
      const { validate } = await import('./commands/validate.js');
      // A driver message could quote the connection string; validate prints what the database said.
      return validate(path, (line) => process.stdout.write(`${redactText(line)}\n`));
    }
    case 'reload': {
      const { reloadCommand } = await import('./commands/reload.js');
      return reloadCommand(rest, { line: (text) => process.stdout.write(`${text}\n`) });
    }
    case 'demo': {
      const { values } = parseUsage(() =>
        parseArgs({ args: rest, options: { follow: { type: 'boolean' } } }),
      );
      const { runDemo } = await import('./commands/demo/demo.js');
      return runDemo({ follow: values.follow === true });
    }
    case 'status': {
      const { statusCommand } = await import('./commands/status.js');
      return statusCommand(rest, {
        out: (text) => process.stdout.write(text),
        err: (line) => process.stderr.write(`${line}\n`),
      });
    }
    case 'invoke':
    case 'backfill': {
      const commands = await import('./commands/backfill.js');
      const output = {
        progress: (text: string) => process.stderr.write(text),
        line: (text: string) => process.stdout.write(`${text}\n`),
        tty: process.stderr.isTTY === true,
      };
      return command === 'invoke'
        ? commands.invokeCommand(rest, output)
        : commands.backfillCommand(rest, output);
    }
    case 'import-hasura': {
      const { importHasuraCommand } = await import('./commands/import-hasura.js');
      return importHasuraCommand(rest, {
        out: (text) => process.stdout.write(text),
        err: (line) => process.stderr.write(`${line}\n`),
      });
    }
    case 'dlq': {
      const { dlqCommand } = await import('./commands/dlq.js');
      return dlqCommand(rest, (line) => process.stdout.write(`${line}\n`));
    }
    case 'events': {
      const { eventsCommand } = await import('./commands/events.js');
      return eventsCommand(rest, (line) => process.stdout.write(`${line}\n`));
    }
    default:
      throw usageError(`unknown command "${command}"`);
  }
}

exitQuietlyWhenOutputCloses();
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Open handles (keep-alive sockets, timers) must not keep a finished command alive.
    setTimeout(() => process.exit(code), 100).unref();
  },
  (err: unknown) => {
    // A coded error is one line for the operator, whatever its exit code.
    if (isWalhookError(err)) {
      process.stderr.write(
        `${err.code === 'WALHOOK_ERR_USAGE' ? 'walhook: ' : ''}${redactText(err.message)}\n`,
      );
      process.exit(err.exitCode);
    }
    // Connection errors can quote the connection string.
    process.stderr.write(
      `walhook: ${redactText(err instanceof Error ? (err.stack ?? err.message) : String(err))}\n`,
    );
    process.exit(1);
  },
);
