// Calls to walhook: the read-only /console/api/* and the admin actions, with the token typed on the page.

const TOKEN_KEY = 'walhook.admin-token';

/** walhook's root, so the page also works when a proxy serves it under a path prefix. */
const ROOT = location.pathname.replace(/\/console(\/.*)?$/, '');

export const UNAUTHORIZED_MESSAGE =
  'Refused (401): the admin token is missing or wrong. Type server.admin_token in the "Admin token" field at the top.';

export function storedToken(): string {
  return sessionStorage.getItem(TOKEN_KEY) ?? '';
}

export function storeToken(token: string): void {
  if (token === '') sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, token);
}

/** Whether walhook has a server.admin_token at all (the overview says): without one every action is refused. */
let adminConfigured = true;

export function setAdminConfigured(configured: boolean): void {
  adminConfigured = configured;
}

/** The actions this page offers beside dead letters are enabled only with a token to send. */
export function canAct(): boolean {
  return adminConfigured && storedToken() !== '';
}

/** Why an action is disabled, for its hint; empty when it is not. */
export function actionsOffHint(): string {
  if (!adminConfigured) return 'Actions are off: walhook has no server.admin_token.';
  return canAct() ? '' : 'Type the admin token at the top of the page to use these actions.';
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }

  /** What the page says about it. */
  describe(): string {
    if (this.status === 401) return `${UNAUTHORIZED_MESSAGE} walhook said: ${this.message}`;
    if (this.status === 0) return `walhook is not answering (${this.message}).`;
    return `walhook answered ${this.status}: ${this.message}`;
  }
}

async function call<T>(path: string, init: RequestInit = {}): Promise<T> {
  const headers = new Headers(init.headers);
  const token = storedToken();
  if (token !== '') headers.set('authorization', `Bearer ${token}`);
  let res: Response;
  try {
    res = await fetch(`${ROOT}${path}`, { ...init, headers, cache: 'no-store' });
  } catch (err) {
    throw new ApiError(0, err instanceof Error ? err.message : String(err));
  }
  const text = await res.text();
  let json: unknown = null;
  try {
    json = text === '' ? null : JSON.parse(text);
  } catch {
    // Not JSON (a proxy's error page): the status and the raw text say enough.
  }
  if (!res.ok) {
    const said = (json as { error?: unknown } | null)?.error;
    throw new ApiError(res.status, typeof said === 'string' ? said : text.slice(0, 200) || res.statusText);
  }
  return json as T;
}

export function getJson<T>(path: string, query: Record<string, string> = {}): Promise<T> {
  const params = new URLSearchParams(Object.entries(query).filter(([, value]) => value !== ''));
  const search = params.size > 0 ? `?${params}` : '';
  return call<T>(`/console/api/${path}${search}`);
}

export function postJson<T>(path: string, body: unknown): Promise<T> {
  return call<T>(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

export function errorText(err: unknown): string {
  return err instanceof ApiError ? err.describe() : err instanceof Error ? err.message : String(err);
}
