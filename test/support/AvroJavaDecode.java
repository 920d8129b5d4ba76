import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;
import org.apache.avro.Conversions;
import org.apache.avro.Schema;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.data.TimeConversions;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.message.BinaryMessageDecoder;

/**
 * Decodes Avro messages with Apache Avro's Java library and prints each datum as
 * GenericData.toString renders it, with the logical-type conversions registered: a timestamp is
 * an Instant, a date a LocalDate, a uuid a UUID (each printed as its quoted toString) and a decimal
 * a BigDecimal (printed bare, with every digit of its scale).
 *
 * Standard input: one case per line, three tab-separated fields: the wire format (single-object,
 * confluent or raw), the writer schema's JSON in base64, the message in base64.
 * Standard output: one line per case, "ok" TAB the rendering, or "error" TAB what went wrong.
 * Every byte of a message must be read: trailing bytes are an error, as they would hide a length bug.
 */
public class AvroJavaDecode {
  private static final byte[] SINGLE_OBJECT_MARKER = {(byte) 0xC3, 0x01};
  private static final int SINGLE_OBJECT_HEADER_LENGTH = 10;
  private static final int CONFLUENT_HEADER_LENGTH = 5;

  private static final GenericData MODEL = modelWithConversions();

  private static GenericData modelWithConversions() {
    GenericData model = new GenericData();
    model.addLogicalTypeConversion(new TimeConversions.TimestampMillisConversion());
    model.addLogicalTypeConversion(new TimeConversions.TimestampMicrosConversion());
    model.addLogicalTypeConversion(new TimeConversions.DateConversion());
    model.addLogicalTypeConversion(new Conversions.UUIDConversion());
    model.addLogicalTypeConversion(new Conversions.DecimalConversion());
    return model;
  }

  public static void main(String[] args) throws Exception {
    var in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.US_ASCII));
    var out = new PrintStream(new FileOutputStream(FileDescriptor.out), false, StandardCharsets.UTF_8);
    Map<String, Schema> schemas = new HashMap<>();
    for (String line = in.readLine(); line != null; line = in.readLine()) {
      out.print(answer(line, schemas));
      out.print('\n');
    }
    out.flush();
  }

  private static String answer(String line, Map<String, Schema> schemas) {
    try {
      String[] fields = line.split("\t", -1);
      if (fields.length != 3) {
        throw new IllegalArgumentException("expected 3 tab-separated fields, got " + fields.length);
      }
      Schema schema = schemas.computeIfAbsent(fields[1], AvroJavaDecode::parseSchema);
      byte[] message = Base64.getDecoder().decode(fields[2]);
      return "ok\t" + MODEL.toString(decode(fields[0], schema, message));
    } catch (Exception | AssertionError e) {
      return "error\t" + e.toString().replace('\n', ' ').replace('\t', ' ');
    }
  }

  private static Schema parseSchema(String base64) {
    // A fresh parser per schema: one parser refuses to see the same record name twice.
    return new Schema.Parser().parse(new String(Base64.getDecoder().decode(base64), StandardCharsets.UTF_8));
  }

  private static Object decode(String format, Schema schema, byte[] message) throws Exception {
    switch (format) {
      case "single-object":
        return singleObject(schema, message);
      case "confluent":
        if (message.length < CONFLUENT_HEADER_LENGTH || message[0] != 0) {
          throw new IllegalArgumentException("not Confluent framing: no magic byte 0 and 4-byte id");
        }
        return body(schema, message, CONFLUENT_HEADER_LENGTH);
      case "raw":
        return body(schema, message, 0);
      default:
        throw new IllegalArgumentException("unknown format " + format);
    }
  }

  /** Checks the header by hand for a clear message, then decodes as Avro's own reader does. */
  private static Object singleObject(Schema schema, byte[] message) throws Exception {
    if (message.length < SINGLE_OBJECT_HEADER_LENGTH
        || message[0] != SINGLE_OBJECT_MARKER[0]
        || message[1] != SINGLE_OBJECT_MARKER[1]) {
      throw new IllegalArgumentException("not single-object encoding: no C3 01 marker");
    }
    long fingerprint = ByteBuffer.wrap(message, 2, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
    long expected = SchemaNormalization.parsingFingerprint64(schema);
    if (fingerprint != expected) {
      throw new IllegalArgumentException(String.format(
          "fingerprint 0x%016x is not the schema's parsingFingerprint64 0x%016x", fingerprint, expected));
    }
    var stream = new ByteArrayInputStream(message);
    Object datum = new BinaryMessageDecoder<Object>(MODEL, schema).decode(stream);
    requireNoTrailingBytes(stream.available());
    return datum;
  }

  private static Object body(Schema schema, byte[] message, int offset) throws Exception {
    BinaryDecoder decoder = DecoderFactory.get().binaryDecoder(message, offset, message.length - offset, null);
    Object datum = new GenericDatumReader<Object>(schema, schema, MODEL).read(null, decoder);
    requireNoTrailingBytes(decoder.isEnd() ? 0 : decoder.inputStream().available());
    return datum;
  }

  private static void requireNoTrailingBytes(int count) {
    if (count != 0) {
      throw new IllegalArgumentException(count + " trailing bytes after the datum");
    }
  }
}
