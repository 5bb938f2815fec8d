import { optionalField, PROTOCOL_LIMITS, requiredField, requiredInputObject } from '../validation';
import type { PageViewData } from './event';

/** A page view (`e=pv`), for server-rendered pages and redirects. Empty optional fields are not sent. */
export interface PageView {
  /** `url`: the page's URL. At most 4096 characters. */
  url: string;
  /** `page`: the page's title. At most 2000 characters. */
  title?: string;
  /** `refr`: the referrer's URL. At most 4096 characters. */
  referrer?: string;
}

/** The data of a page view (`trackPageView`). */
export function pageViewData(event: unknown): PageViewData {
  const input = requiredInputObject('event', event);
  const data: { -readonly [K in keyof PageViewData]: PageViewData[K] } = {
    type: 'pv',
    url: requiredField('url', input.url, PROTOCOL_LIMITS.url),
  };
  const title = optionalField('title', input.title, PROTOCOL_LIMITS.page);
  if (title !== undefined) data.title = title;
  const referrer = optionalField('referrer', input.referrer, PROTOCOL_LIMITS.refr);
  if (referrer !== undefined) data.referrer = referrer;
  return data;
}
