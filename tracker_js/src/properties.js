// Event properties as the collector takes them: flat values (strings, numbers, booleans, null) of at most
// 2,048 characters. Objects and arrays (a purchase's items) become JSON; undefined and functions are left out. The collector's other limits (64
// properties, names of 128 characters) are left to it: an event beyond them is kept in its dead letters.

export const MAX_VALUE_LENGTH = 2048

export function cleanProperties(properties) {
  const clean = {}
  for (let [name, value] of Object.entries(properties || {})) {
    if (value && typeof value == 'object') value = JSON.stringify(value)
    clean[name] = typeof value == 'string' ? value.slice(0, MAX_VALUE_LENGTH) : value // JSON drops functions
  }
  return clean
}
