// What the tracker keeps in the browser, only when it may: the anonymous id in a first-party cookie, and in
// localStorage the user id after identify and the queue of unsent events.

export const ANONYMOUS_ID = 'beacon_id'
export const USER_ID = 'beacon_uid'
export const QUEUE = 'beacon_queue'
const YEAR_SECONDS = 31536000

/** @param {Window} window */
export function createStore(window) {
  const cookie = (value, maxAge) => {
    window.document.cookie = `${ANONYMOUS_ID}=${value};max-age=${maxAge};path=/;samesite=lax`
  }
  // localStorage can be missing or throw (sandboxed frames, blocked storage, a full quota).
  const local = (use) => {
    try {
      return use(window.localStorage)
    } catch (error) {}
  }
  const store = {
    read: (key) => local((storage) => JSON.parse(storage[key])),
    write: (key, value) => local((storage) => (storage[key] = JSON.stringify(value))),
    remove: (key) => local((storage) => storage.removeItem(key)),
    anonymousId: () => /(?:^|; )beacon_id=([^;]+)/.exec(window.document.cookie)?.[1],
    setAnonymousId(id) {
      cookie(id, YEAR_SECONDS)
      return id
    },
    /** Forget everything: consent was denied. */
    erase() {
      cookie('', 0)
      store.remove(USER_ID)
      store.remove(QUEUE)
    },
  }
  return store
}
