import { randomInt as cryptoRandomInt } from 'node:crypto';

/**
 * A small seeded pseudo-random generator, so that a chaos run can be repeated exactly from its seed.
 * mulberry32: 32 bits of state, a full period of 2^32, and good enough statistics for choosing faults
 * and waits (it is not for secrets).
 */
export type Random = () => number;

export const MAX_SEED = 0xffff_ffff;

/** A generator of numbers in [0, 1), the same sequence for the same seed. */
export function mulberry32(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** A whole number from `min` to `max`, both included. */
export function randomInt(random: Random, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}

/** A shuffled copy (Fisher-Yates): every order equally likely. */
export function shuffle<T>(random: Random, items: readonly T[]): T[] {
  const copy = [...items];
  for (let index = copy.length - 1; index > 0; index--) {
    const other = randomInt(random, 0, index);
    [copy[index], copy[other]] = [copy[other] as T, copy[index] as T];
  }
  return copy;
}

/** A fresh seed for a run that was given none (printed, so that the run can be repeated). */
export function newSeed(): number {
  return cryptoRandomInt(0, MAX_SEED);
}
