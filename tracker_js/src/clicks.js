// What a click means: a data-beacon-event element (with data-beacon-prop-* properties), an outbound link,
// a file download. One listener on the document sees every click, whatever the page adds later.

const DOWNLOAD = /\.(pdf|zip|rar|7z|gz|dmg|exe|msi|apk|csv|xlsx?|docx?|pptx?|mp[34])$/i
const PROPERTY = /^data-beacon-prop-(.+)/

/**
 * Report the events a click on `target` makes.
 * @param {Element} target
 * @param {Location} location the page's
 * @param {(name: string, properties: object) => void} send
 */
export function clickEvents(target, location, send) {
  const tagged = target?.closest?.('[data-beacon-event]')
  if (tagged) {
    const properties = {}
    for (const { name, value } of tagged.attributes) {
      const property = PROPERTY.exec(name)
      if (property) properties[property[1]] = value
    }
    send(tagged.getAttribute('data-beacon-event'), properties)
  }
  const link = target?.closest?.('a[href]')
  if (/^http/.test(link?.protocol)) {
    const properties = { href: link.href }
    if (link.hasAttribute('download') || DOWNLOAD.test(link.pathname)) send('file_download', properties)
    else if (link.host != location.host) send('outbound_click', properties)
  }
}
