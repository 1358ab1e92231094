import type { DeliveryEvent } from '../core/delivery-event.js';

/**
 * Where events leave walhook. A sink settles each event exactly once, and only when it is safe for the
 * checkpoint to pass it: delivered (acknowledged by the receiver or broker) or finally failed and stored.
 * Until then the event counts in `inFlight`, which is what pauses the replication stream.
 */
export interface Sink<Event extends DeliveryEvent = DeliveryEvent> {
  submit(event: Event): void;
  /** Resolves true once every event submitted so far is settled, false if `timeoutMs` passes first. */
  drain(timeoutMs: number): Promise<boolean>;
  /** Stops without settling what is still pending: the source replays it after a restart. */
  close(): Promise<void>;
  /** Events submitted and not yet settled. */
  readonly inFlight: number;
  /** The sum of `bytes` of the events submitted and not yet settled. */
  readonly inFlightBytes: number;
}
