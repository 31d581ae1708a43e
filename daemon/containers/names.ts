// Container names: dockerd's validation rule, and generated "adjective_surname" names for
// containers created without one. The word lists are Berth's own.
import { Conflict, InvalidParameter } from '../../lib/errors';

const VALID_NAME = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** Strips the leading slash; throws dockerd's error for an invalid name. */
export function validateName(name: string): string {
  if (!VALID_NAME.test(name)) {
    throw new InvalidParameter(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  }
  return name.startsWith('/') ? name.slice(1) : name;
}

const ADJECTIVES = [
  'agile', 'amber', 'ancient', 'azure', 'bold', 'brave', 'bright', 'brisk', 'calm', 'careful', 'cheerful',
  'clever', 'cosmic', 'crisp', 'curious', 'daring', 'dazzling', 'eager', 'earnest', 'electric', 'elegant',
  'epic', 'fearless', 'fervent', 'festive', 'fluent', 'focused', 'gallant', 'gentle', 'gifted', 'glad',
  'golden', 'graceful', 'happy', 'hardy', 'humble', 'jolly', 'jovial', 'keen', 'kind', 'lively', 'loyal',
  'lucid', 'lucky', 'mellow', 'merry', 'mighty', 'modest', 'nimble', 'noble', 'patient', 'peaceful',
  'placid', 'plucky', 'polished', 'proud', 'quick', 'quiet', 'radiant', 'rapid', 'serene', 'sharp',
  'shiny', 'silent', 'sincere', 'smooth', 'snappy', 'sober', 'solid', 'spirited', 'steady', 'stoic',
  'sturdy', 'sunny', 'swift', 'tender', 'thirsty', 'tidy', 'tranquil', 'trusty', 'upbeat', 'valiant',
  'vibrant', 'vigilant', 'vivid', 'warm', 'wise', 'witty', 'zealous', 'zen',
];

const SURNAMES = [
  'agnesi', 'al_khwarizmi', 'babbage', 'banach', 'bell', 'bohr', 'boole', 'cantor', 'carson', 'cauchy',
  'curie', 'darwin', 'dijkstra', 'euclid', 'euler', 'faraday', 'fermat', 'fermi', 'feynman', 'fibonacci',
  'franklin', 'galileo', 'gauss', 'germain', 'goodall', 'hamilton', 'hawking', 'heisenberg', 'hilbert',
  'hopper', 'hypatia', 'jackson', 'johnson', 'joule', 'kepler', 'knuth', 'kovalevskaya', 'lamarr',
  'laplace', 'leibniz', 'lovelace', 'maxwell', 'meitner', 'mendel', 'mirzakhani', 'newton', 'nightingale',
  'noether', 'pascal', 'pasteur', 'planck', 'poincare', 'ramanujan', 'riemann', 'ritchie', 'sagan',
  'shannon', 'somerville', 'tesla', 'thompson', 'torvalds', 'turing', 'volta', 'wiles', 'wozniak', 'wu',
];

export function generateName(taken: (name: string) => boolean): string {
  for (let attempt = 0; attempt < 20; attempt++) {
    const adj = ADJECTIVES[Math.floor(Math.random() * ADJECTIVES.length)];
    const sur = SURNAMES[Math.floor(Math.random() * SURNAMES.length)];
    // After a few collisions add a digit, as dockerd does.
    const name = attempt < 3 ? `${adj}_${sur}` : `${adj}_${sur}${Math.floor(Math.random() * 10)}`;
    if (!taken(name)) return name;
  }
  throw new Error('could not generate a free container name');
}

/** dockerd's answer to a name another container holds (create and rename). */
export function nameConflict(name: string, holder: string): Conflict {
  return new Conflict(
    `Conflict. The container name "/${name}" is already in use by container "${holder}". You have to remove (or rename) that container to be able to reuse that name.`,
  );
}
