/** The keys of Hasura's event-trigger body, sorted: receivers written for Hasura may check them strictly. */
export const HASURA_BODY_KEYS = ['created_at', 'delivery_info', 'event', 'id', 'table', 'trigger'];
