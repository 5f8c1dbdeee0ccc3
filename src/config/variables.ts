import { z } from 'zod';

/**
 * One environment variable: how to parse it, an example of a good value for error messages, and
 * whether it is a secret (never printed, and scrubbed from logs).
 */
export interface VariableSpec<T> {
  name: string;
  schema: z.ZodType<T>;
  example: string;
  description: string;
  secret?: boolean;
}

export function variable<T>(spec: VariableSpec<T>): VariableSpec<T> {
  return spec;
}

const emptyToUndefined = (value: unknown) => (typeof value === 'string' && value.trim() === '' ? undefined : value);

export const optionalString = z.preprocess(emptyToUndefined, z.string().trim().optional());

export function optionalUrl(protocols: readonly string[]) {
  return z.preprocess(
    emptyToUndefined,
    z
      .string()
      .trim()
      .refine((value) => isUrlWithProtocol(value, protocols), {
        message: `must be a URL starting with ${protocols.map((protocol) => `${protocol}//`).join(' or ')}`,
      })
      .optional(),
  );
}

function isUrlWithProtocol(value: string, protocols: readonly string[]): boolean {
  try {
    return protocols.includes(new URL(value).protocol);
  } catch {
    return false;
  }
}

export function urlWithDefault(protocols: readonly string[], fallback: string) {
  return optionalUrl(protocols).transform((value) => (value ?? fallback).replace(/\/+$/, ''));
}

function wholeNumber(range: { min: number; max: number }) {
  return z.coerce
    .number({ message: 'must be a whole number' })
    .int({ message: 'must be a whole number' })
    .min(range.min, { message: `must be at least ${range.min}` })
    .max(range.max, { message: `must be at most ${range.max}` });
}

export function integer(fallback: number, range: { min: number; max: number }) {
  return z.preprocess(emptyToUndefined, wholeNumber(range).default(fallback)) as z.ZodType<number>;
}

export function optionalInteger(range: { min: number; max: number }) {
  return z.preprocess(emptyToUndefined, wholeNumber(range).optional()) as z.ZodType<number | undefined>;
}

export function ratio(fallback: number) {
  return z.preprocess(
    emptyToUndefined,
    z.coerce
      .number({ message: 'must be a number between 0 and 1' })
      .gt(0, { message: 'must be greater than 0' })
      .max(1, { message: 'must be at most 1' })
      .default(fallback),
  ) as z.ZodType<number>;
}

export function boolean(fallback: boolean) {
  return z.preprocess(
    emptyToUndefined,
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false' })
      .optional()
      .transform((value) => (value === undefined ? fallback : ['true', '1', 'yes'].includes(value))),
  ) as z.ZodType<boolean>;
}

export function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.preprocess(
    (value) => (typeof value === 'string' ? emptyToUndefined(value.trim().toLowerCase()) : value),
    z.enum(values, { message: `must be one of: ${values.join(', ')}` }).optional(),
  ) as z.ZodType<T[number] | undefined>;
}
