import { Document, visit } from 'yaml';
import { WalhookError } from '../../core/errors.js';
import { tableText } from '../../core/table-name.js';
import { qualifiedName } from '../../source/tables.js';
import type { HasuraMetadata } from './metadata-read.js';
import { type ImportedTrigger, importProject, type SourceImport } from './project.js';

export interface ImportOptions {
  /** The metadata path as given, for the config's header comment. */
  readonly path: string;
  /** Only this source (`--source`). */
  readonly source?: string | undefined;
  /** The Hasura version the imported triggers' User-Agent names. */
  readonly hasuraVersion: string;
}

export interface ImportResult {
  /** The walhook config (YAML), or null when no trigger could be imported. */
  readonly yaml: string | null;
  /** The report, one line per trigger, skipped source and table that needs REPLICA IDENTITY FULL. */
  readonly lines: readonly string[];
  /** Whether every trigger was mapped. */
  readonly complete: boolean;
}

/** A source name as a pipeline name (and slot and publication suffix): a lower-case identifier. */
function identifier(name: string, taken: Set<string>): string {
  const base =
    name
      .toLowerCase()
      .replace(/[^a-z0-9_]+/g, '_')
      .replace(/^(?=[0-9])/, '_')
      .slice(0, 50) || 'source';
  let candidate = base;
  for (let n = 2; taken.has(candidate); n += 1) candidate = `${base}_${n}`;
  taken.add(candidate);
  return candidate;
}

/** Why none of a source's triggers can be imported, or null. */
function sourceProblem(source: SourceImport): string | null {
  if (source.skipped !== null) return `source ${source.name} is skipped (${source.skipped})`;
  return 'problem' in source.connection ? `source ${source.name}: ${source.connection.problem}` : null;
}

function triggerLine(source: SourceImport, trigger: ImportedTrigger): string {
  const table = trigger.table ? ` ${tableText(trigger.table)}` : '';
  const where = `trigger ${trigger.name} (source ${source.name}, table${table})`;
  const problem = sourceProblem(source);
  if (problem !== null) return `${where}: not supported: ${problem}`;
  if (trigger.problem !== null)
    return `${where}: not supported: ${trigger.problem.key}: ${trigger.problem.why}`;
  if (trigger.notes.length > 0) return `${where}: mapped with a note: ${trigger.notes.join('; ')}`;
  return `${where}: mapped`;
}

function identityLines(source: SourceImport): string[] {
  return source.needFullIdentity.map(
    (table) =>
      `table ${tableText(table)} (source ${source.name}) needs REPLICA IDENTITY FULL for skip_unchanged_updates and whole old rows; its owner runs: ALTER TABLE ${qualifiedName(table)} REPLICA IDENTITY FULL;`,
  );
}

function selected(sources: SourceImport[], name: string | undefined): SourceImport[] {
  if (name === undefined) return sources;
  const source = sources.find((s) => s.name === name);
  if (source === undefined) {
    const names = sources.map((s) => s.name).join(', ') || 'none';
    throw new WalhookError(
      'WALHOOK_ERR_USAGE',
      `import-hasura: --source ${name}: no such source in the metadata (its sources: ${names})`,
    );
  }
  if (source.skipped !== null) {
    throw new WalhookError('WALHOOK_ERR_USAGE', `import-hasura: --source ${name}: ${source.skipped}`);
  }
  return [source];
}

/**
 * The walhook config for Hasura metadata and the report on it: one pipeline per Postgres source with
 * mapped triggers (the single-pipeline form when there is one), the unmapped triggers left out.
 */
export function importHasura(metadata: HasuraMetadata, options: ImportOptions): ImportResult {
  const sources = selected(importProject(metadata, options.hasuraVersion), options.source);
  const lines: string[] = [];
  const pipelines: Record<string, unknown>[] = [];
  const taken = new Set<string>();
  let complete = true;
  for (const source of sources) {
    if (source.skipped !== null && source.triggers.length === 0) {
      lines.push(`source ${source.name}: skipped (${source.skipped})`);
      continue;
    }
    for (const trigger of source.triggers) lines.push(triggerLine(source, trigger));
    const problem = sourceProblem(source);
    const mapped = problem === null ? source.triggers.filter((t) => t.trigger !== null) : [];
    if (mapped.length < source.triggers.length) complete = false;
    if (mapped.length === 0) continue;
    lines.push(...identityLines(source));
    const name = identifier(source.name, taken);
    pipelines.push({
      name,
      source: {
        connection: (source.connection as { connection: string }).connection,
        slot: `walhook_${name}`,
        publication: `walhook_${name}`,
      },
      triggers: mapped.map((t) => t.trigger),
    });
  }
  if (pipelines.length === 0) {
    lines.push('no trigger could be imported: no config written');
    return { yaml: null, lines, complete: false };
  }
  const config =
    pipelines.length === 1
      ? { source: pipelines[0]?.source, triggers: pipelines[0]?.triggers }
      : { pipelines };
  const doc = new Document(config);
  // Quoted, so a variable whose value looks like a number or a boolean still gives a string.
  visit(doc, {
    Scalar(_key, node) {
      if (typeof node.value === 'string' && node.value.includes('${')) node.type = 'QUOTE_DOUBLE';
    },
  });
  const which = options.source === undefined ? '' : `, source ${options.source}`;
  doc.commentBefore = ` walhook config imported from the Hasura metadata at ${options.path}${which} (walhook import-hasura)`;
  return { yaml: doc.toString({ lineWidth: 0 }), lines, complete };
}
