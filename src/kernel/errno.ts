/**
 * Errno names and values (include/uapi/asm-generic/errno-base.h, errno.h).
 * Kernel paths return negative errnos; the model carries the name.
 */

export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  EINTR: 4,
  EIO: 5,
  ENXIO: 6,
  E2BIG: 7,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  EISDIR: 21,
  EINVAL: 22,
  ENOTTY: 25,
  ENOSPC: 28,
  ERANGE: 34,
  EOVERFLOW: 75,
  EOPNOTSUPP: 95,
  EHWPOISON: 133,
} as const;

export type Errno = keyof typeof ERRNO;

export const ERRNO_NAMES = Object.keys(ERRNO) as Errno[];

export function isErrno(s: string): s is Errno {
  return Object.prototype.hasOwnProperty.call(ERRNO, s);
}

/** The name for a raw value; `-1` returned by a kernel path reaches user space as EPERM. */
export function errnoFromValue(v: number): Errno | undefined {
  const abs = Math.abs(v);
  return ERRNO_NAMES.find((n) => ERRNO[n] === abs);
}

/** What a kernel function returns: its value, or the errno user space sees. */
export type Ret<T = true> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly errno: Errno };
export const OK: Ret = { ok: true, value: true };
export function err<T = true>(errno: Errno): Ret<T> {
  return { ok: false, errno };
}
