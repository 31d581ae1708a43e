// String order as Go's sort.Strings and `<` give it: by code unit, never the locale's collation.
// (localeCompare would also load ICU's collation data into the daemon: ~2 MB resident for good.)

export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
