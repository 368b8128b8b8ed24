/** A bad request to the inference Worker: a 4xx with a message naming what is wrong. */
export class InputError extends Error {
  constructor(
    readonly status: 400 | 404 | 405 | 409 | 413 | 415 | 503,
    message: string,
  ) {
    super(message);
  }
}
