// Engaged time: the page is visible and the visitor was active (pointer, keys, touch, scroll) within the last
// IDLE_MS; arriving on the page counts as activity. Kept as a running total that each page ping takes.

export const IDLE_MS = 5000

/**
 * @param {() => number} now milliseconds
 * @param {boolean} visible whether the page is visible now
 */
export function createEngagement(now, visible) {
  let engaged = 0
  let mark = now() // engaged time is counted up to here
  let activeUntil = mark + IDLE_MS
  const account = () => {
    const time = now()
    if (visible && activeUntil > mark) engaged += Math.max(0, Math.min(time, activeUntil) - mark)
    mark = time
  }
  const engagement = {
    /** The visitor did something, or the page was shown or hidden: `isVisible` says which it is now. */
    active(isVisible) {
      account()
      visible = isVisible
      if (visible) activeUntil = mark + IDLE_MS
    },
    /** The engaged milliseconds since the last take. */
    take() {
      account()
      const taken = engaged
      engaged = 0
      return taken
    },
  }
  return engagement
}

/** How far down the page the bottom of the viewport is, in percent (100 when the page fits the window). */
export function scrollDepth(window) {
  const { scrollHeight } = window.document.documentElement
  return Math.min(100, Math.round(((window.scrollY + window.innerHeight) / scrollHeight) * 100))
}
