// The tracker never throws into the page: every entry point from the page or the browser (listeners, timers,
// commands) runs inside guard.

/** The listener, wrapped so that nothing it does can throw. */
export const guard =
  (listener) =>
  (...args) => {
    try {
      return listener(...args)
    } catch (error) {}
  }
