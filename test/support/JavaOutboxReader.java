import java.io.File;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.message.BinaryMessageDecoder;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.utils.Utils;

/**
 * Reads outbox topics with Kafka's own Java consumer and decodes every value with Apache Avro
 * Java, sharing no code with the relay: a bug in the relay's encoder cannot hide behind the same
 * bug in a decoder of ours. No consumer group: every partition is assigned and read from the
 * beginning to the end offsets taken at start.
 *
 * Arguments: bootstrap servers, isolation level, the envelope schema file (a version with
 * appended fields reads any envelope; or "raw": values are
 * the payload as stored, RELAY_VALUE_FORMAT=raw, the event id in the `id` header and the
 * aggregate id the key), then the topics.
 * Output, one line per record, tab-separated: topic, partition, offset, the key's partition as
 * Kafka's Java producer computes it, event_id, aggregate_id, the key, payload (base64), the
 * headers (base64 of name=value lines), and for Avro the whole record as Avro Java prints it
 * (JSON, base64). A value that does not decode prints "undecodable" and the reason in place of
 * the fields after the key's partition.
 */
public class JavaOutboxReader {
  public static void main(String[] args) throws Exception {
    var out = new PrintStream(new FileOutputStream(FileDescriptor.out), false, StandardCharsets.UTF_8);
    boolean raw = args[2].equals("raw");
    var decoder = raw ? null : new BinaryMessageDecoder<GenericRecord>(GenericData.get(), new Schema.Parser().parse(new File(args[2])));
    Properties props = new Properties();
    props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
    props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, args[1]);
    props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    props.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "5000");
    try (var consumer = new KafkaConsumer<byte[], byte[]>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
      List<TopicPartition> partitions = new ArrayList<>();
      Map<String, Integer> counts = new HashMap<>();
      for (int i = 3; i < args.length; i++) {
        List<PartitionInfo> infos = consumer.partitionsFor(args[i], Duration.ofSeconds(30));
        counts.put(args[i], infos.size());
        for (PartitionInfo info : infos) partitions.add(new TopicPartition(info.topic(), info.partition()));
      }
      consumer.assign(partitions);
      consumer.seekToBeginning(partitions);
      Map<TopicPartition, Long> end = consumer.endOffsets(partitions);
      long deadline = System.currentTimeMillis() + 120_000;
      while (!done(consumer, end)) {
        if (System.currentTimeMillis() > deadline) throw new IllegalStateException("end offsets not reached in 120 s");
        for (ConsumerRecord<byte[], byte[]> record : consumer.poll(Duration.ofMillis(500))) {
          out.print(line(record, counts.get(record.topic()), decoder));
          out.print('\n');
        }
      }
    }
    out.flush();
  }

  private static boolean done(KafkaConsumer<byte[], byte[]> consumer, Map<TopicPartition, Long> end) {
    for (var entry : end.entrySet()) {
      if (consumer.position(entry.getKey()) < entry.getValue()) return false;
    }
    return true;
  }

  private static String line(ConsumerRecord<byte[], byte[]> record, int partitions, BinaryMessageDecoder<GenericRecord> decoder) {
    byte[] key = record.key();
    String keyText = key == null ? "" : new String(key, StandardCharsets.UTF_8);
    String javaPartition = key == null ? "-" : String.valueOf(Utils.toPositive(Utils.murmur2(key)) % partitions);
    String head = record.topic() + "\t" + record.partition() + "\t" + record.offset() + "\t" + javaPartition + "\t";
    var headers = new StringBuilder();
    for (Header header : record.headers()) {
      headers.append(header.key()).append('=')
          .append(header.value() == null ? "" : new String(header.value(), StandardCharsets.UTF_8)).append('\n');
    }
    String tail = "\t" + Base64.getEncoder().encodeToString(headers.toString().getBytes(StandardCharsets.UTF_8));
    try {
      if (decoder == null) {
        Header id = record.headers().lastHeader("id");
        if (id == null) throw new IllegalStateException("no id header");
        if (record.value() == null) throw new IllegalStateException("null value");
        return head + new String(id.value(), StandardCharsets.UTF_8) + "\t" + keyText + "\t" + keyText + "\t"
            + Base64.getEncoder().encodeToString(record.value()) + tail;
      }
      GenericRecord event = decoder.decode(record.value());
      String payload = event.get("payload").toString();
      return head + event.get("event_id") + "\t" + event.get("aggregate_id") + "\t"
          + keyText + "\t"
          + Base64.getEncoder().encodeToString(payload.getBytes(StandardCharsets.UTF_8)) + tail + "\t"
          + Base64.getEncoder().encodeToString(event.toString().getBytes(StandardCharsets.UTF_8));
    } catch (Exception e) {
      return head + "undecodable\t" + String.valueOf(e).replace('\t', ' ').replace('\n', ' ');
    }
  }
}
