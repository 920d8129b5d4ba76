import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import org.apache.kafka.clients.producer.internals.BuiltInPartitioner;

/**
 * Prints the partition Kafka's Java producer picks for each key: BuiltInPartitioner.partitionForKey,
 * that is toPositive(murmur2(key bytes)) % partitions.
 *
 * Arguments: the partition counts. Standard input: one key per line, its bytes in base64.
 * Standard output: one line per key, its partition for each count, separated by spaces.
 */
public class JavaMurmur2 {
  public static void main(String[] args) throws Exception {
    var in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.US_ASCII));
    var out = new StringBuilder();
    for (String line = in.readLine(); line != null; line = in.readLine()) {
      byte[] key = Base64.getDecoder().decode(line);
      for (int i = 0; i < args.length; i++) {
        out.append(i == 0 ? "" : " ");
        out.append(BuiltInPartitioner.partitionForKey(key, Integer.parseInt(args[i])));
      }
      out.append('\n');
    }
    System.out.print(out);
  }
}
