// Behavioural model of the ECP5 DP16KD block RAM, for post-synthesis simulation of
// attnhw's netlists: Yosys's cells_sim_ecp5.v declares DP16KD without behaviour.
// Written from the primitive's documented behaviour (Lattice TN1264, "ECP5 Memory
// Usage Guide") and the layout Yosys's brams_map_16kd.v writes: 1024 words of 18
// bits, INITVAL_xx holding words 16*xx .. 16*xx+15 in 20-bit fields (18 used).
//
// Port widths 9, 18 (either port) and 36 (write on A with DIA/DIB, read on B with
// DOA/DOB), byte enables on the low address bits, REGMODE NOREG or OUTREG,
// WRITEMODE NORMAL / WRITETHROUGH / READBEFOREWRITE, chip selects decoded to 0.
// Other settings stop the simulation.
`default_nettype none
module DP16KD (
    input  wire DIA17, DIA16, DIA15, DIA14, DIA13, DIA12, DIA11, DIA10, DIA9, DIA8, DIA7, DIA6, DIA5, DIA4, DIA3, DIA2, DIA1, DIA0,
    input  wire ADA13, ADA12, ADA11, ADA10, ADA9, ADA8, ADA7, ADA6, ADA5, ADA4, ADA3, ADA2, ADA1, ADA0,
    input  wire CEA, OCEA, CLKA, WEA, RSTA, CSA2, CSA1, CSA0,
    output wire DOA17, DOA16, DOA15, DOA14, DOA13, DOA12, DOA11, DOA10, DOA9, DOA8, DOA7, DOA6, DOA5, DOA4, DOA3, DOA2, DOA1, DOA0,
    input  wire DIB17, DIB16, DIB15, DIB14, DIB13, DIB12, DIB11, DIB10, DIB9, DIB8, DIB7, DIB6, DIB5, DIB4, DIB3, DIB2, DIB1, DIB0,
    input  wire ADB13, ADB12, ADB11, ADB10, ADB9, ADB8, ADB7, ADB6, ADB5, ADB4, ADB3, ADB2, ADB1, ADB0,
    input  wire CEB, OCEB, CLKB, WEB, RSTB, CSB2, CSB1, CSB0,
    output wire DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9, DOB8, DOB7, DOB6, DOB5, DOB4, DOB3, DOB2, DOB1, DOB0
);
    parameter DATA_WIDTH_A = 18;
    parameter DATA_WIDTH_B = 18;
    parameter REGMODE_A = "NOREG";
    parameter REGMODE_B = "NOREG";
    parameter RESETMODE = "SYNC";
    parameter ASYNC_RESET_RELEASE = "SYNC";
    parameter CSDECODE_A = "0b000";
    parameter CSDECODE_B = "0b000";
    parameter WRITEMODE_A = "NORMAL";
    parameter WRITEMODE_B = "NORMAL";
    parameter CLKAMUX = "CLKA";
    parameter CLKBMUX = "CLKB";
    parameter GSR = "ENABLED";
    parameter INIT_DATA = "STATIC";
    parameter WID = 0;
    parameter INITVAL_00 = 320'h0;
    parameter INITVAL_01 = 320'h0;
    parameter INITVAL_02 = 320'h0;
    parameter INITVAL_03 = 320'h0;
    parameter INITVAL_04 = 320'h0;
    parameter INITVAL_05 = 320'h0;
    parameter INITVAL_06 = 320'h0;
    parameter INITVAL_07 = 320'h0;
    parameter INITVAL_08 = 320'h0;
    parameter INITVAL_09 = 320'h0;
    parameter INITVAL_0A = 320'h0;
    parameter INITVAL_0B = 320'h0;
    parameter INITVAL_0C = 320'h0;
    parameter INITVAL_0D = 320'h0;
    parameter INITVAL_0E = 320'h0;
    parameter INITVAL_0F = 320'h0;
    parameter INITVAL_10 = 320'h0;
    parameter INITVAL_11 = 320'h0;
    parameter INITVAL_12 = 320'h0;
    parameter INITVAL_13 = 320'h0;
    parameter INITVAL_14 = 320'h0;
    parameter INITVAL_15 = 320'h0;
    parameter INITVAL_16 = 320'h0;
    parameter INITVAL_17 = 320'h0;
    parameter INITVAL_18 = 320'h0;
    parameter INITVAL_19 = 320'h0;
    parameter INITVAL_1A = 320'h0;
    parameter INITVAL_1B = 320'h0;
    parameter INITVAL_1C = 320'h0;
    parameter INITVAL_1D = 320'h0;
    parameter INITVAL_1E = 320'h0;
    parameter INITVAL_1F = 320'h0;
    parameter INITVAL_20 = 320'h0;
    parameter INITVAL_21 = 320'h0;
    parameter INITVAL_22 = 320'h0;
    parameter INITVAL_23 = 320'h0;
    parameter INITVAL_24 = 320'h0;
    parameter INITVAL_25 = 320'h0;
    parameter INITVAL_26 = 320'h0;
    parameter INITVAL_27 = 320'h0;
    parameter INITVAL_28 = 320'h0;
    parameter INITVAL_29 = 320'h0;
    parameter INITVAL_2A = 320'h0;
    parameter INITVAL_2B = 320'h0;
    parameter INITVAL_2C = 320'h0;
    parameter INITVAL_2D = 320'h0;
    parameter INITVAL_2E = 320'h0;
    parameter INITVAL_2F = 320'h0;
    parameter INITVAL_30 = 320'h0;
    parameter INITVAL_31 = 320'h0;
    parameter INITVAL_32 = 320'h0;
    parameter INITVAL_33 = 320'h0;
    parameter INITVAL_34 = 320'h0;
    parameter INITVAL_35 = 320'h0;
    parameter INITVAL_36 = 320'h0;
    parameter INITVAL_37 = 320'h0;
    parameter INITVAL_38 = 320'h0;
    parameter INITVAL_39 = 320'h0;
    parameter INITVAL_3A = 320'h0;
    parameter INITVAL_3B = 320'h0;
    parameter INITVAL_3C = 320'h0;
    parameter INITVAL_3D = 320'h0;
    parameter INITVAL_3E = 320'h0;
    parameter INITVAL_3F = 320'h0;

    wire [17:0] dia = {DIA17, DIA16, DIA15, DIA14, DIA13, DIA12, DIA11, DIA10, DIA9, DIA8, DIA7, DIA6, DIA5, DIA4, DIA3, DIA2, DIA1, DIA0};
    wire [17:0] dib = {DIB17, DIB16, DIB15, DIB14, DIB13, DIB12, DIB11, DIB10, DIB9, DIB8, DIB7, DIB6, DIB5, DIB4, DIB3, DIB2, DIB1, DIB0};
    wire [13:0] ada = {ADA13, ADA12, ADA11, ADA10, ADA9, ADA8, ADA7, ADA6, ADA5, ADA4, ADA3, ADA2, ADA1, ADA0};
    wire [13:0] adb = {ADB13, ADB12, ADB11, ADB10, ADB9, ADB8, ADB7, ADB6, ADB5, ADB4, ADB3, ADB2, ADB1, ADB0};

    reg [17:0] mem [0:1023];
    task load(input [7:0] row, input [319:0] value);
        integer i;
        for (i = 0; i < 16; i = i + 1)
            mem[row * 16 + i] = value[i * 20 +: 18];
    endtask
    initial begin
        if (!((DATA_WIDTH_A == 9 || DATA_WIDTH_A == 18 || DATA_WIDTH_A == 36)
              && (DATA_WIDTH_B == 9 || DATA_WIDTH_B == 18 || DATA_WIDTH_B == 36)
              && (REGMODE_A == "NOREG" || REGMODE_A == "OUTREG")
              && (REGMODE_B == "NOREG" || REGMODE_B == "OUTREG")
              && CSDECODE_A == "0b000" && CSDECODE_B == "0b000"
              && CLKAMUX == "CLKA" && CLKBMUX == "CLKB")) begin
            $display("DP16KD model: unsupported width, register, clock or chip-select setting");
            $finish;
        end
        load(8'h00, INITVAL_00);
        load(8'h01, INITVAL_01);
        load(8'h02, INITVAL_02);
        load(8'h03, INITVAL_03);
        load(8'h04, INITVAL_04);
        load(8'h05, INITVAL_05);
        load(8'h06, INITVAL_06);
        load(8'h07, INITVAL_07);
        load(8'h08, INITVAL_08);
        load(8'h09, INITVAL_09);
        load(8'h0A, INITVAL_0A);
        load(8'h0B, INITVAL_0B);
        load(8'h0C, INITVAL_0C);
        load(8'h0D, INITVAL_0D);
        load(8'h0E, INITVAL_0E);
        load(8'h0F, INITVAL_0F);
        load(8'h10, INITVAL_10);
        load(8'h11, INITVAL_11);
        load(8'h12, INITVAL_12);
        load(8'h13, INITVAL_13);
        load(8'h14, INITVAL_14);
        load(8'h15, INITVAL_15);
        load(8'h16, INITVAL_16);
        load(8'h17, INITVAL_17);
        load(8'h18, INITVAL_18);
        load(8'h19, INITVAL_19);
        load(8'h1A, INITVAL_1A);
        load(8'h1B, INITVAL_1B);
        load(8'h1C, INITVAL_1C);
        load(8'h1D, INITVAL_1D);
        load(8'h1E, INITVAL_1E);
        load(8'h1F, INITVAL_1F);
        load(8'h20, INITVAL_20);
        load(8'h21, INITVAL_21);
        load(8'h22, INITVAL_22);
        load(8'h23, INITVAL_23);
        load(8'h24, INITVAL_24);
        load(8'h25, INITVAL_25);
        load(8'h26, INITVAL_26);
        load(8'h27, INITVAL_27);
        load(8'h28, INITVAL_28);
        load(8'h29, INITVAL_29);
        load(8'h2A, INITVAL_2A);
        load(8'h2B, INITVAL_2B);
        load(8'h2C, INITVAL_2C);
        load(8'h2D, INITVAL_2D);
        load(8'h2E, INITVAL_2E);
        load(8'h2F, INITVAL_2F);
        load(8'h30, INITVAL_30);
        load(8'h31, INITVAL_31);
        load(8'h32, INITVAL_32);
        load(8'h33, INITVAL_33);
        load(8'h34, INITVAL_34);
        load(8'h35, INITVAL_35);
        load(8'h36, INITVAL_36);
        load(8'h37, INITVAL_37);
        load(8'h38, INITVAL_38);
        load(8'h39, INITVAL_39);
        load(8'h3A, INITVAL_3A);
        load(8'h3B, INITVAL_3B);
        load(8'h3C, INITVAL_3C);
        load(8'h3D, INITVAL_3D);
        load(8'h3E, INITVAL_3E);
        load(8'h3F, INITVAL_3F);
    end

    // A 36-bit port spans two 18-bit words, a 9-bit port half of one. Byte enables
    // sit on the low address bits of 18- and 36-bit ports.
    function [35:0] read_word(input integer width, input [13:0] ad);
        case (width)
            36: read_word = {mem[{ad[13:5], 1'b1}], mem[{ad[13:5], 1'b0}]};
            18: read_word = {18'd0, mem[ad[13:4]]};
            default: read_word = {27'd0, ad[3] ? mem[ad[13:4]][17:9] : mem[ad[13:4]][8:0]};
        endcase
    endfunction
    task write_word(input integer width, input [13:0] ad, input [35:0] d);
        case (width)
            36: begin
                if (ad[0]) mem[{ad[13:5], 1'b0}][8:0] = d[8:0];
                if (ad[1]) mem[{ad[13:5], 1'b0}][17:9] = d[17:9];
                if (ad[2]) mem[{ad[13:5], 1'b1}][8:0] = d[26:18];
                if (ad[3]) mem[{ad[13:5], 1'b1}][17:9] = d[35:27];
            end
            18: begin
                if (ad[0]) mem[ad[13:4]][8:0] = d[8:0];
                if (ad[1]) mem[ad[13:4]][17:9] = d[17:9];
            end
            default:
                if (ad[3]) mem[ad[13:4]][17:9] = d[8:0]; else mem[ad[13:4]][8:0] = d[8:0];
        endcase
    endtask

    // Port A: writes (with DIB as the upper half in 36-bit mode), reads at <= 18 bits.
    reg [17:0] doa_q = 18'd0, doa_r = 18'd0;
    always @(posedge CLKA) begin
        if (RSTA) doa_q <= 18'd0;
        else if (CEA) begin
            if (WEA) begin
                if (WRITEMODE_A == "READBEFOREWRITE") doa_q <= read_word(DATA_WIDTH_A, ada);
                write_word(DATA_WIDTH_A, ada, {dib, dia});
                if (WRITEMODE_A == "WRITETHROUGH") doa_q <= read_word(DATA_WIDTH_A, ada);
            end else if (DATA_WIDTH_A != 36)
                doa_q <= read_word(DATA_WIDTH_A, ada);
        end
        if (RSTA) doa_r <= 18'd0; else if (OCEA) doa_r <= doa_q;
    end
    // Port B: reads (36-bit: DOA low half, DOB high half) and writes at <= 18 bits.
    reg [35:0] dob_q = 36'd0, dob_r = 36'd0;
    always @(posedge CLKB) begin
        if (RSTB) dob_q <= 36'd0;
        else if (CEB) begin
            if (WEB && DATA_WIDTH_B != 36) begin
                if (WRITEMODE_B == "READBEFOREWRITE") dob_q <= read_word(DATA_WIDTH_B, adb);
                write_word(DATA_WIDTH_B, adb, {18'd0, dib});
                if (WRITEMODE_B == "WRITETHROUGH") dob_q <= read_word(DATA_WIDTH_B, adb);
            end else if (!WEB)
                dob_q <= read_word(DATA_WIDTH_B, adb);
        end
        if (RSTB) dob_r <= 36'd0; else if (OCEB) dob_r <= dob_q;
    end
    wire [17:0] a_out = REGMODE_A == "OUTREG" ? doa_r : doa_q;
    wire [35:0] b_out = REGMODE_B == "OUTREG" ? dob_r : dob_q;
    assign {DOA17, DOA16, DOA15, DOA14, DOA13, DOA12, DOA11, DOA10, DOA9, DOA8, DOA7, DOA6, DOA5, DOA4, DOA3, DOA2, DOA1, DOA0} = DATA_WIDTH_B == 36 ? b_out[17:0] : a_out;
    assign {DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9, DOB8, DOB7, DOB6, DOB5, DOB4, DOB3, DOB2, DOB1, DOB0} = DATA_WIDTH_B == 36 ? b_out[35:18] : b_out[17:0];
endmodule
`default_nettype wire
