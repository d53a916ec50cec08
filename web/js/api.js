// HTTPS API calls. The session travels in the HttpOnly cookie; errors come
// back as ApiError with the server's code, message and Retry-After.

export class ApiError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

export async function api(method, path, body) {
  const init = { method, headers: {}, credentials: 'same-origin' };
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch {
    throw new ApiError(0, 'offline', 'The server cannot be reached.');
  }
  if (res.status === 204) return null;
  const data = await res.json().catch(() => null);
  if (!res.ok) {
    const err = data && data.error ? data.error : { code: 'internal', message: res.statusText };
    const retry = Number(res.headers.get('retry-after')) || undefined;
    throw new ApiError(res.status, err.code, err.message, retry);
  }
  return data;
}

// Words for the error codes a person may meet.
export function explain(err) {
  switch (err.code) {
    case 'invalid_credentials': return 'Wrong username or password.';
    case 'username_taken': return 'That username is taken.';
    case 'registration_closed': return err.message || 'Registration is closed.';
    case 'rate_limited': {
      // The server says what was too many ("too many actions; retry in 3 s").
      const what = (err.message || 'too many attempts').split(';')[0];
      const n = err.retryAfter;
      const wait = n ? `${n} ${n === 1 ? 'second' : 'seconds'}` : 'a few seconds';
      return `${what.charAt(0).toUpperCase()}${what.slice(1)}. Try again in ${wait}.`;
    }
    case 'offline': return err.message;
    default: return err.message || 'Something went wrong.';
  }
}
