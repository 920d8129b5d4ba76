/** The route stage's public surface. */
export { createRouter, type Router, type RouterOptions, type RoutedRecord } from './router.ts';
export {
  AGGREGATE_TYPE_HEADER,
  AVRO_CONTENT_TYPE,
  CONTENT_TYPE_HEADER,
  EVENT_ID_HEADER,
  EVENT_TYPE_HEADER,
} from './headers.ts';
export {
  DEFAULT_TOPIC_TEMPLATE,
  parseTopicTemplate,
  TOPIC_PLACEHOLDERS,
  TOPIC_TEMPLATE_SETTING,
} from './topic-template.ts';
export {
  INTERNAL_TOPIC_PREFIX,
  MAX_TOPIC_NAME_LENGTH,
  reservedTopicProblem,
  topicNameProblem,
  type ReservedTopic,
} from './topic-name.ts';
