// Small predicates shared by image listing and pruning.

/** Whether an object's labels pass the caller's label filters (the API's label=/label!= rules). */
export type LabelPredicate = (labels: Readonly<Record<string, string>>) => boolean;

/** Unix seconds of an RFC 3339 time; 0 when absent or unparseable (as a zero Go time). */
export function createdSeconds(created: string): number {
  const t = Date.parse(created);
  return Number.isNaN(t) ? 0 : Math.floor(t / 1000);
}
