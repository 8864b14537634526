import { createParser } from 'eventsource-parser'
import { eventTypes } from '../services/events.ts'
import type { EventBus, NodeEvent, NodeEventListener, NodeEventType } from '../services/events.ts'
import type { ApiClient } from './api.ts'

export interface RemoteEventsInit {
  /** Wait before opening the stream again after it broke, ms (default 1000). */
  retryMs?: number
}

/**
 * The daemon's events (`GET /api/v1/events`, Server-Sent Events) as the node's `subscribe`: the
 * stream opens with the first listener, closes with the last, and reopens after a break while
 * anyone listens (events sent while it was broken are not replayed).
 */
export function remoteEvents (api: ApiClient, init: RemoteEventsInit = {}): Pick<EventBus, 'subscribe'> {
  const listeners = new Set<NodeEventListener>()
  let controller: AbortController | undefined

  const deliver = (event: NodeEvent): void => {
    for (const listener of listeners) {
      try {
        listener(event)
      } catch {
        // A subscriber's failure is its own business, as on the node's bus.
      }
    }
  }

  const parser = createParser({
    onEvent (message) {
      if (message.event == null || !eventTypes.includes(message.event as NodeEventType)) return
      let data: Record<string, unknown>
      try {
        data = JSON.parse(message.data) as Record<string, unknown>
      } catch {
        return
      }
      const { time, ...detail } = data
      deliver({ id: Number(message.id ?? 0), type: message.event as NodeEventType, time: typeof time === 'number' ? time : Date.now(), detail } as NodeEvent)
    }
  })

  const stream = async (signal: AbortSignal): Promise<void> => {
    while (!signal.aborted) {
      try {
        const res = await api.request('/events', { accept: 'text/event-stream', signal })
        parser.reset()
        const decoder = new TextDecoder()
        for await (const chunk of res.body ?? []) parser.feed(decoder.decode(chunk, { stream: true }))
      } catch {
        // Broken or refused (daemon gone, restarting, too many streams): try again below.
      }
      if (signal.aborted) return
      await new Promise<void>(resolve => {
        const timer = setTimeout(resolve, init.retryMs ?? 1000)
        signal.addEventListener('abort', () => { clearTimeout(timer); resolve() }, { once: true })
      })
    }
  }

  return {
    subscribe (listener) {
      listeners.add(listener)
      if (controller == null) {
        const c = new AbortController()
        controller = c
        void stream(c.signal)
      }
      return () => {
        listeners.delete(listener)
        if (listeners.size === 0 && controller != null) {
          controller.abort()
          controller = undefined
        }
      }
    }
  }
}
